package clusterc

// TLS options: ClusterOptions' TLS fields, and the parts of a go-redis
// TLSConfig that can be handed to the C library, as URL keys of
// clusterc_options_parse_url.
//
//	ClusterOptions field                    URL key
//	TLS (or TLSConfig != nil)               tls=true
//	TLSCAFile                               tls_ca_file
//	TLSCADir                                tls_ca_dir
//	TLSCertFile                             tls_cert_file
//	TLSKeyFile                              tls_key_file
//	TLSServerName, TLSConfig.ServerName     tls_server_name
//	TLSInsecureSkipVerify, TLSConfig.Insec… tls_insecure_skip_verify=true
//	TLSMinVersion, TLSConfig.MinVersion     tls_min_version=1.2 / 1.3

import (
	"crypto/tls"
	"fmt"
	"net/url"
)

func invalidTLS(format string, args ...interface{}) error {
	return &ClientError{Code: int(ErrInvalid.Code), Msg: "ClusterOptions." + fmt.Sprintf(format, args...)}
}

// tlsVersionParam is the URL value of a crypto/tls version constant.
func tlsVersionParam(field string, v uint16) (string, error) {
	switch v {
	case tls.VersionTLS12:
		return "1.2", nil
	case tls.VersionTLS13:
		return "1.3", nil
	case tls.VersionTLS10, tls.VersionTLS11:
		return "", invalidTLS("%s: TLS 1.0 and 1.1 are not available: libclusterc speaks "+
			"TLS 1.2 and 1.3 only (use tls.VersionTLS12 or tls.VersionTLS13)", field)
	}
	return "", invalidTLS("%s: 0x%04x is not a TLS version (use tls.VersionTLS12 or "+
		"tls.VersionTLS13)", field, v)
}

// tlsFromConfig checks what a go-redis TLSConfig holds against what the C
// library can take, and returns the three fields it can.
func tlsFromConfig(c *tls.Config) (serverName string, skipVerify bool, minVersion uint16, err error) {
	refuse := func(field, instead string) error {
		return invalidTLS("TLSConfig.%s cannot be passed to libclusterc (its TLS is "+
			"OpenSSL's, in C): %s", field, instead)
	}
	switch {
	case c.RootCAs != nil:
		err = refuse("RootCAs", "set TLSCAFile (a PEM bundle) or TLSCADir instead")
	case len(c.Certificates) > 0:
		err = refuse("Certificates", "set TLSCertFile and TLSKeyFile (PEM files) instead")
	case c.GetClientCertificate != nil:
		err = refuse("GetClientCertificate", "set TLSCertFile and TLSKeyFile (PEM files) instead")
	case c.VerifyPeerCertificate != nil:
		err = refuse("VerifyPeerCertificate", "the library verifies the chain and the host "+
			"name itself; use TLSCAFile / TLSServerName")
	case c.VerifyConnection != nil:
		err = refuse("VerifyConnection", "the library verifies the chain and the host name "+
			"itself; use TLSCAFile / TLSServerName")
	case len(c.CipherSuites) > 0:
		err = refuse("CipherSuites", "the library uses OpenSSL's default suites; leave it nil")
	case len(c.CurvePreferences) > 0:
		err = refuse("CurvePreferences", "the library uses OpenSSL's defaults; leave it nil")
	case len(c.NextProtos) > 0:
		err = refuse("NextProtos", "the library negotiates no ALPN; leave it nil")
	case c.KeyLogWriter != nil:
		err = refuse("KeyLogWriter", "leave it nil")
	case c.MaxVersion != 0 && c.MaxVersion < tls.VersionTLS13:
		err = refuse("MaxVersion", "the library may negotiate TLS 1.3; leave it 0")
	}
	if err != nil {
		return "", false, 0, err
	}
	return c.ServerName, c.InsecureSkipVerify, c.MinVersion, nil
}

// tlsParams adds the TLS keys of opt to q (nothing when TLS is off and no
// TLS field is set).
func (opt *ClusterOptions) tlsParams(q url.Values) error {
	serverName, skip, minVersion := opt.TLSServerName, opt.TLSInsecureSkipVerify, opt.TLSMinVersion
	if c := opt.TLSConfig; c != nil {
		cn, cskip, cmin, err := tlsFromConfig(c)
		if err != nil {
			return err
		}
		if cn != "" && serverName != "" && cn != serverName {
			return invalidTLS("TLSServerName %q and TLSConfig.ServerName %q differ; set one",
				serverName, cn)
		}
		if cn != "" {
			serverName = cn
		}
		skip = skip || cskip
		if cmin != 0 && minVersion != 0 && cmin != minVersion {
			return invalidTLS("TLSMinVersion 0x%04x and TLSConfig.MinVersion 0x%04x differ; "+
				"set one", minVersion, cmin)
		}
		if cmin != 0 {
			minVersion = cmin
		}
	}
	if opt.TLS || opt.TLSConfig != nil {
		q.Set("tls", "true")
	}
	for _, kv := range [][2]string{{"tls_ca_file", opt.TLSCAFile}, {"tls_ca_dir", opt.TLSCADir},
		{"tls_cert_file", opt.TLSCertFile}, {"tls_key_file", opt.TLSKeyFile},
		{"tls_server_name", serverName}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	if skip {
		q.Set("tls_insecure_skip_verify", "true")
	}
	if minVersion != 0 {
		field := "TLSMinVersion"
		if opt.TLSMinVersion == 0 {
			field = "TLSConfig.MinVersion"
		}
		v, err := tlsVersionParam(field, minVersion)
		if err != nil {
			return err
		}
		q.Set("tls_min_version", v)
	}
	return nil
}
