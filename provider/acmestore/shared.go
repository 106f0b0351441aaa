package acmestore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/dnshandle/dnshandle/provider/acme"
	"github.com/dnshandle/dnshandle/provider/store"
)

var (
	_ acme.NonceBackend = (*Backend)(nil)
	_ acme.Pruner       = (*Backend)(nil)
)

// nonceKeyName is the name of the nonce key in the store's ACME secrets.
const nonceKeyName = "nonce"

// PruneBatchSize is the largest number of rows of each kind that Prune
// deletes in one transaction, so that a large backlog never holds the
// store's single writer for long. Measured once on SQLite on the 2-CPU
// machine of docs/benchmarks.md, 200,000 expired nonce records took 200
// transactions of 4 ms on average and 16 ms at most.
const PruneBatchSize = 1000

// NonceKey implements acme.NonceBackend. The key is 32 random bytes, stored
// sealed (purpose "acme-secret:nonce") in the store's ACME secrets. Of
// several processes that create it at once, the first wins and the others
// read its value.
func (b *Backend) NonceKey(ctx context.Context) ([]byte, error) {
	const purpose = "acme-secret:" + nonceKeyName
	sealed, err := b.st.ACMESecret(ctx, nonceKeyName)
	if errors.Is(err, store.ErrNotFound) {
		fresh := make([]byte, acme.NonceKeySize)
		// crypto/rand.Read never returns an error since Go 1.24.
		_, _ = rand.Read(fresh)
		sealed, err = b.sealer.Seal(fresh, purpose)
		if err != nil {
			return nil, fmt.Errorf("seal the ACME nonce key: %w", err)
		}
		err = b.st.InTx(ctx, func(tx store.Tx) error { return tx.CreateACMESecret(ctx, nonceKeyName, sealed) })
		if errors.Is(err, store.ErrConflict) {
			sealed, err = b.st.ACMESecret(ctx, nonceKeyName)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load the ACME nonce key: %w", err)
	}
	key, err := b.sealer.Open(sealed, purpose)
	if err != nil {
		return nil, fmt.Errorf("open the ACME nonce key: %w", err)
	}
	return key, nil
}

// UseNonce implements acme.NonceBackend with one store transaction.
func (b *Backend) UseNonce(ctx context.Context, nonce string, expires time.Time) error {
	err := b.st.InTx(ctx, func(tx store.Tx) error { return tx.UseACMENonce(ctx, nonce, expires) })
	return mapErr(err, acme.ErrNonceUsed)
}

// Prune implements acme.Pruner with store.Tx.DeleteExpiredACME, in
// transactions of up to PruneBatchSize rows of each kind, until no expired
// row is left or ctx ends. An expired enrollment that created an account
// stays for that account, without its sealed key.
func (b *Backend) Prune(ctx context.Context, now time.Time) (acme.PruneCounts, error) {
	var total store.ACMEPruned
	for {
		var batch store.ACMEPruned
		err := b.st.InTx(ctx, func(tx store.Tx) error {
			var err error
			batch, err = tx.DeleteExpiredACME(ctx, now, PruneBatchSize)
			return err
		})
		if err != nil {
			return pruneCounts(total), fmt.Errorf("prune expired ACME records: %w", err)
		}
		total = total.Add(batch)
		if batch.Orders < PruneBatchSize && batch.Enrollments < PruneBatchSize &&
			batch.EnrollmentKeys < PruneBatchSize && batch.Nonces < PruneBatchSize {
			return pruneCounts(total), nil
		}
		if err := ctx.Err(); err != nil {
			return pruneCounts(total), fmt.Errorf("prune expired ACME records: %w", err)
		}
	}
}

func pruneCounts(p store.ACMEPruned) acme.PruneCounts {
	return acme.PruneCounts{Orders: p.Orders, Credentials: p.Enrollments + p.EnrollmentKeys, Nonces: p.Nonces}
}
