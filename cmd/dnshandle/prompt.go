package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/dnshandle/dnshandle/handle"
)

// terminal returns in as a file when it is a terminal, for prompts. A
// file, a pipe or /dev/null is not a terminal.
func terminal(in io.Reader) (*os.File, bool) {
	f, ok := in.(*os.File)
	if !ok || !isTerminal(f) {
		return nil, false
	}
	return f, true
}

// askHandle returns a client.Asker that lists the enrolled handles on out
// and reads the choice, a number or a handle, from in.
func askHandle(in io.Reader, out io.Writer, sitesFile string) func(string, []handle.Handle) (handle.Handle, error) {
	return func(origin string, enrolled []handle.Handle) (handle.Handle, error) {
		fmt.Fprintf(out, "Which handle should %s see? You are asked once per site; the choice is kept in %s.\n", origin, sitesFile)
		for i, h := range enrolled {
			fmt.Fprintf(out, "  %d) %s\n", i+1, h.Display())
		}
		fmt.Fprintf(out, "Handle [1-%d]: ", len(enrolled))

		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		answer := strings.TrimSpace(line)
		if answer == "" {
			return "", errors.New("no handle chosen")
		}
		if n, err := strconv.Atoi(answer); err == nil {
			if n < 1 || n > len(enrolled) {
				return "", fmt.Errorf("%d is not one of the numbers 1 to %d", n, len(enrolled))
			}
			return enrolled[n-1], nil
		}
		return handle.ParseInput(answer)
	}
}

// readNewPassword returns the first line of file, or prompts twice on the
// terminal with echo off, or reads the first line of standard input when
// that is not a terminal.
func readNewPassword(in io.Reader, out io.Writer, file string) (string, error) {
	if file != "" {
		return readPassword(in, file)
	}
	tty, ok := terminal(in)
	if !ok {
		return readPassword(in, "")
	}

	first, err := promptHidden(tty, out, "Password for the PKCS #12 file: ")
	if err != nil {
		return "", err
	}
	second, err := promptHidden(tty, out, "Repeat the password: ")
	if err != nil {
		return "", err
	}
	if first != second {
		return "", errors.New("the two passwords differ")
	}
	if first == "" {
		return "", errors.New("the password is empty: the importing program asks for it, so give one")
	}
	return first, nil
}

// promptHidden prints prompt and reads a line from tty with echo turned
// off by stty(1), which is on every Unix system.
func promptHidden(tty *os.File, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	if err := stty(tty, "-echo"); err != nil {
		return "", fmt.Errorf("cannot turn off echo on the terminal (%w): give --password-file instead", err)
	}
	line, readErr := bufio.NewReader(tty).ReadString('\n')
	restoreErr := stty(tty, "echo")
	fmt.Fprintln(out)
	if readErr != nil && !errors.Is(readErr, io.EOF) {
		return "", readErr
	}
	if restoreErr != nil {
		return "", fmt.Errorf("restore echo on the terminal: %w", restoreErr)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func stty(tty *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = tty
	return cmd.Run()
}
