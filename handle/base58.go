package handle

import "fmt"

// base58Alphabet is the Bitcoin base58 alphabet, which multibase calls
// base58btc. It leaves out 0, O, I and l, which are easy to confuse.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Values maps a byte to its digit value, or -1 when the byte is not in
// the alphabet.
var base58Values = func() [256]int8 {
	var values [256]int8
	for i := range values {
		values[i] = -1
	}
	for i := 0; i < len(base58Alphabet); i++ {
		values[base58Alphabet[i]] = int8(i)
	}
	return values
}()

// base58Encode returns the base58btc form of data. Each leading zero byte
// becomes one leading "1", and the rest is the big-endian number in base 58.
// The running time grows with the square of len(data), which is fine for keys.
func base58Encode(data []byte) string {
	zeros := 0
	for zeros < len(data) && data[zeros] == 0 {
		zeros++
	}

	// 138/100 is just above log(256)/log(58), the growth from bytes to digits.
	digits := make([]byte, 0, (len(data)-zeros)*138/100+1)
	for _, b := range data[zeros:] {
		carry := int(b)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}

	out := make([]byte, zeros+len(digits))
	for i := 0; i < zeros; i++ {
		out[i] = base58Alphabet[0]
	}
	// digits holds the least significant digit first.
	for i, d := range digits {
		out[len(out)-1-i] = base58Alphabet[d]
	}
	return string(out)
}

// base58Decode returns the bytes that s encodes. Every string over the
// alphabet decodes, and base58Encode of the result returns s again, so the
// encoding has one form per byte string. The error names the first character
// outside the alphabet and reads as the end of a sentence about s.
func base58Decode(s string) ([]byte, error) {
	zeros := 0
	for zeros < len(s) && s[zeros] == base58Alphabet[0] {
		zeros++
	}

	// 733/1000 is just above log(58)/log(256), the shrink from digits to bytes.
	value := make([]byte, 0, (len(s)-zeros)*733/1000+1)
	for i := zeros; i < len(s); i++ {
		digit := base58Values[s[i]]
		if digit < 0 {
			return nil, fmt.Errorf("contains %q at offset %d, which is not in the base58btc alphabet", s[i], i)
		}
		carry := int(digit)
		// value holds the least significant byte first.
		for j := range value {
			carry += int(value[j]) * 58
			value[j] = byte(carry)
			carry >>= 8
		}
		for carry > 0 {
			value = append(value, byte(carry))
			carry >>= 8
		}
	}

	out := make([]byte, zeros+len(value))
	for i, b := range value {
		out[len(out)-1-i] = b
	}
	return out, nil
}
