package secret

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestBox(t *testing.T) *Box {
	t.Helper()

	k, err := NewKey()
	require.NoError(t, err)

	box, err := NewBox(k)
	require.NoError(t, err)
	return box
}

func TestBoxRoundTrip(t *testing.T) {
	box := newTestBox(t)
	associatedData := []byte("0b9e5a52-7c3e-4d0e-9a34-2f6f1f0c8d11")

	testCases := []struct {
		name      string
		plaintext []byte
	}{
		{name: "password", plaintext: []byte("hunter2-but-longer")},
		{name: "empty", plaintext: []byte{}},
		{name: "binary", plaintext: []byte{0, 1, 2, 0xff, 0xfe}},
	}

	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := box.Seal(tc.plaintext, associatedData)
			require.NoError(t, err)
			require.Len(t, sealed, 1+nonceSize+len(tc.plaintext)+tagSize)
			require.Equal(t, formatVersion, sealed[0])

			opened, err := box.Open(sealed, associatedData)
			require.NoError(t, err)
			require.Equal(t, len(tc.plaintext), len(opened))
			if len(tc.plaintext) > 0 {
				require.Equal(t, tc.plaintext, opened)
			}
		})
	}
}

func TestBoxSealUsesFreshNonce(t *testing.T) {
	box := newTestBox(t)
	plaintext := []byte("same input")

	first, err := box.Seal(plaintext, nil)
	require.NoError(t, err)

	second, err := box.Seal(plaintext, nil)
	require.NoError(t, err)

	require.NotEqual(t, first[1:1+nonceSize], second[1:1+nonceSize])
	require.NotEqual(t, first, second)
}

func TestBoxSealDoesNotContainPlaintext(t *testing.T) {
	box := newTestBox(t)
	plaintext := []byte("a-plaintext-that-must-not-appear")

	sealed, err := box.Seal(plaintext, nil)
	require.NoError(t, err)
	require.NotContains(t, string(sealed), string(plaintext))
}

func TestBoxOpenErrors(t *testing.T) {
	box := newTestBox(t)
	otherBox := newTestBox(t)
	plaintext := []byte("role password")
	associatedData := []byte("tenant-a")

	sealed, err := box.Seal(plaintext, associatedData)
	require.NoError(t, err)

	modified := func(index int) []byte {
		out := append([]byte(nil), sealed...)
		out[index] ^= 0x01
		return out
	}

	testCases := []struct {
		name           string
		box            *Box
		sealed         []byte
		associatedData []byte
		wantErr        string
	}{
		{
			name:           "wrong key",
			box:            otherBox,
			sealed:         sealed,
			associatedData: associatedData,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "tampered nonce",
			box:            box,
			sealed:         modified(1),
			associatedData: associatedData,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "tampered ciphertext",
			box:            box,
			sealed:         modified(1 + nonceSize),
			associatedData: associatedData,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "tampered tag",
			box:            box,
			sealed:         modified(len(sealed) - 1),
			associatedData: associatedData,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "wrong associated data",
			box:            box,
			sealed:         sealed,
			associatedData: []byte("tenant-b"),
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "missing associated data",
			box:            box,
			sealed:         sealed,
			associatedData: nil,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "unknown version",
			box:            box,
			sealed:         append([]byte{2}, sealed[1:]...),
			associatedData: associatedData,
			wantErr:        "decrypt failed: unknown format version 2, want 1",
		},
		{
			name:           "truncated tag",
			box:            box,
			sealed:         sealed[:len(sealed)-1],
			associatedData: associatedData,
			wantErr:        "decrypt failed: authentication failed",
		},
		{
			name:           "shorter than header and tag",
			box:            box,
			sealed:         sealed[:minSealedSize-1],
			associatedData: associatedData,
			wantErr:        "decrypt failed: sealed value is 28 bytes, want at least 29",
		},
		{
			name:           "empty",
			box:            box,
			sealed:         nil,
			associatedData: associatedData,
			wantErr:        "decrypt failed: sealed value is 0 bytes, want at least 29",
		},
	}

	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			opened, err := tc.box.Open(tc.sealed, tc.associatedData)
			require.ErrorIs(t, err, ErrDecrypt)
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), string(plaintext))
			require.Nil(t, opened)
		})
	}
}

func TestNewBoxRejectsZeroKey(t *testing.T) {
	box, err := NewBox(Key{})
	require.EqualError(t, err, "create box: invalid key: all 32 bytes are zero, which usually means the key was never set")
	require.Nil(t, box)
}

func TestBoxConcurrentUse(t *testing.T) {
	box := newTestBox(t)
	const (
		goroutines = 8
		rounds     = 100
	)

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Go(func() {
			associatedData := []byte{byte(i)}
			plaintext := fmt.Appendf(nil, "value of goroutine %d", i)

			for range rounds {
				sealed, err := box.Seal(plaintext, associatedData)
				if err != nil {
					errs <- err
					return
				}

				opened, err := box.Open(sealed, associatedData)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(plaintext, opened) {
					errs <- fmt.Errorf("goroutine %d opened %q, want %q", i, opened, plaintext)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		require.NoError(t, err)
	}
}
