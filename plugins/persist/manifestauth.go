package persist

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/abusekit/abusekit/internal/rootfs"
)

// The manifest is authenticated: Restore recreates files with the owner,
// mode and content it names (a setuid-root file, a cron job), so a
// manifest forged or edited by whoever controls the host must be refused.
// On disk it is an envelope
//
//	{"format": "abusekit-manifest/2", "hmac_sha256": "…", "manifest": {…}}
//
// whose MAC is HMAC-SHA256 over the exact bytes of the "manifest" member,
// keyed with a key kept outside the root being cleaned: the caller's
// (ApplyOptions.Key, RestoreOptions.Key), else the key file in the
// runner's state directory (DefaultKeyFile), made on first use. On the
// live root "/" that file is on the host being cleaned, readable by root
// only: a caller who does not trust the host's root passes its own key.

// ManifestFormat names the envelope format.
const ManifestFormat = "abusekit-manifest/2"

// ErrManifestKey is returned (wrapped) when no manifest key can be had,
// or the key file is unsafe (a link, not 0600, inside the root cleaned).
var ErrManifestKey = errors.New("persist: manifest key unavailable or unsafe")

type envelope struct {
	Format   string          `json:"format"`
	MAC      string          `json:"hmac_sha256"`
	Manifest json.RawMessage `json:"manifest"`
}

// DefaultKeyFile is where Apply and Restore keep the manifest key when
// the caller gives none: $ABUSEKIT_STATE_DIR/manifest.key, else
// $XDG_STATE_HOME/abusekit/manifest.key, else
// ~/.local/state/abusekit/manifest.key.
func DefaultKeyFile() (string, error) {
	if d := os.Getenv("ABUSEKIT_STATE_DIR"); d != "" {
		return filepath.Join(d, "manifest.key"), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "abusekit", "manifest.key"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrManifestKey, err)
	}
	return filepath.Join(home, ".local", "state", "abusekit", "manifest.key"), nil
}

// manifestKey returns the caller's key, or the default key file's
// (created when create is true and it is missing). A key file inside the
// root being cleaned (other than the live "/") is refused.
func manifestKey(key []byte, root string, create bool) ([]byte, error) {
	if len(key) > 0 {
		return key, nil
	}
	kf, err := DefaultKeyFile()
	if err != nil {
		return nil, err
	}
	kf, _ = filepath.Abs(kf)
	if root != "" && !isLiveRoot(root) {
		if ar, err := filepath.Abs(root); err == nil && (kf == ar || strings.HasPrefix(kf, ar+string(filepath.Separator))) {
			return nil, fmt.Errorf("%w: key file %s is inside the root %s being cleaned", ErrManifestKey, kf, ar)
		}
	}
	fh, err := os.OpenFile(kf, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) && create {
		if err := os.MkdirAll(filepath.Dir(kf), 0o700); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrManifestKey, err)
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		w, werr := os.OpenFile(kf, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if werr == nil {
			_, werr = w.WriteString(hex.EncodeToString(k) + "\n")
			if werr == nil {
				werr = w.Sync()
			}
			if cerr := w.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				return nil, fmt.Errorf("%w: %w", ErrManifestKey, werr)
			}
		} else if !errors.Is(werr, os.ErrExist) {
			return nil, fmt.Errorf("%w: %w", ErrManifestKey, werr)
		}
		fh, err = os.OpenFile(kf, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifestKey, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifestKey, err)
	}
	if uid, _ := rootfs.Owner(fi); !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 || uid != os.Geteuid() {
		return nil, fmt.Errorf("%w: %s must be a regular file of uid %d with mode 0600 (is %s, uid %d)", ErrManifestKey, kf, os.Geteuid(), fi.Mode(), uid)
	}
	b, err := io.ReadAll(io.LimitReader(fh, 1024))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrManifestKey, err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("%w: %s does not hold a hex key of at least 16 bytes", ErrManifestKey, kf)
	}
	return k, nil
}

// mac is HMAC-SHA256 over the compact form of a JSON value (whitespace
// is all that indenting the envelope changes in it).
func mac(key, body []byte) string {
	var c bytes.Buffer
	if err := json.Compact(&c, body); err != nil {
		return ""
	}
	h := hmac.New(sha256.New, key)
	h.Write(c.Bytes())
	return hex.EncodeToString(h.Sum(nil))
}

// sealManifest marshals m into its authenticated envelope.
func sealManifest(m *Manifest, key []byte) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(envelope{Format: ManifestFormat, MAC: mac(key, body), Manifest: body}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// openManifest checks the envelope's MAC with key and decodes the
// manifest.
func openManifest(b []byte, key []byte, name string) (*Manifest, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadManifest, name, err)
	}
	if env.Format != ManifestFormat {
		return nil, fmt.Errorf("%w: %s: format %q, want %q (an unauthenticated manifest is not restored)", ErrBadManifest, name, env.Format, ManifestFormat)
	}
	got, err := hex.DecodeString(env.MAC)
	want, _ := hex.DecodeString(mac(key, env.Manifest))
	if err != nil || len(want) == 0 || !hmac.Equal(got, want) {
		return nil, fmt.Errorf("%w: %s: HMAC does not match (forged or edited, or another key)", ErrBadManifest, name)
	}
	var m Manifest
	if err := json.Unmarshal(env.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadManifest, name, err)
	}
	return &m, nil
}
