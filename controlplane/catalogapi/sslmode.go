package catalogapi

import (
	"github.com/jackc/pgx/v5/pgconn"
)

// SSLMode returns the libpq sslmode that produced config's TLS settings,
// as pgconn.ParseConfig (pgx v5) builds them: no TLS is disable, no TLS
// with a TLS fallback is allow, TLS with a plain fallback is prefer, TLS
// without certificate checks is require, a chain check without the host
// name check is verify-ca, and full checks are verify-full. sslmode
// require with sslrootcert set checks the chain, so it returns verify-ca,
// which is how libpq treats it too.
func SSLMode(config *pgconn.Config) string {
	var fallback *pgconn.FallbackConfig
	for _, f := range config.Fallbacks {
		if f.Host == config.Host && f.Port == config.Port {
			fallback = f
			break
		}
	}

	tlsConfig := config.TLSConfig
	switch {
	case tlsConfig == nil && fallback != nil && fallback.TLSConfig != nil:
		return "allow"
	case tlsConfig == nil:
		return "disable"
	case fallback != nil && fallback.TLSConfig == nil:
		return "prefer"
	case tlsConfig.InsecureSkipVerify && tlsConfig.VerifyPeerCertificate == nil:
		return "require"
	case tlsConfig.InsecureSkipVerify:
		return "verify-ca"
	default:
		return "verify-full"
	}
}
