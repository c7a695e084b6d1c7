package clusterc

// TLS: the options' URL keys (offline), and a TLS cluster of its own
// (harness.py start --tls --tls-auth-clients, 3 primaries + 3 replicas on
// 127.0.0.1:23150-23155; 23199 stays closed; CLUSTERC_GO_TEST_PORT moves
// them, see setPorts) when the harness and the
// library support TLS. The certificates are the harness's, made by
// examples/lab/tls-certs.sh in <dir>/tls.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func urlQuery(t *testing.T, opt *ClusterOptions) url.Values {
	t.Helper()
	s, err := opt.URL()
	if err != nil {
		t.Fatalf("URL(): %v", err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	if u.Scheme != "redis" {
		t.Errorf("%s: scheme %q", s, u.Scheme)
	}
	return u.Query()
}

func wantKeys(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("%s = %q, want %q (query %s)", k, got, v, q.Encode())
		}
	}
}

func TestTLSOptionsURL(t *testing.T) {
	q := urlQuery(t, &ClusterOptions{
		Addrs:                 []string{"localhost:7001"},
		TLS:                   true,
		TLSCAFile:             "/etc/certs/ca b.crt",
		TLSCADir:              "/etc/ssl/certs",
		TLSCertFile:           "/etc/certs/client.crt",
		TLSKeyFile:            "/etc/certs/client.key",
		TLSServerName:         "redis.example",
		TLSInsecureSkipVerify: true,
		TLSMinVersion:         tls.VersionTLS13,
	})
	wantKeys(t, q, map[string]string{"tls": "true", "tls_ca_file": "/etc/certs/ca b.crt",
		"tls_ca_dir": "/etc/ssl/certs", "tls_cert_file": "/etc/certs/client.crt",
		"tls_key_file": "/etc/certs/client.key", "tls_server_name": "redis.example",
		"tls_insecure_skip_verify": "true", "tls_min_version": "1.3"})

	// Off by default: no TLS key at all.
	q = urlQuery(t, &ClusterOptions{Addrs: []string{"localhost:7001"}})
	for k := range q {
		if strings.HasPrefix(k, "tls") {
			t.Errorf("default options: unexpected key %s", k)
		}
	}
	q = urlQuery(t, &ClusterOptions{Addrs: []string{"h:1"}, TLS: true, TLSMinVersion: tls.VersionTLS12})
	wantKeys(t, q, map[string]string{"tls": "true", "tls_min_version": "1.2",
		"tls_insecure_skip_verify": "", "tls_ca_file": ""})
}

func TestTLSConfigMapping(t *testing.T) {
	// go-redis style: TLSConfig alone turns TLS on; its mappable fields.
	q := urlQuery(t, &ClusterOptions{Addrs: []string{"h:1"}, TLSConfig: &tls.Config{
		ServerName: "localhost", InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(4)}})
	wantKeys(t, q, map[string]string{"tls": "true", "tls_server_name": "localhost",
		"tls_insecure_skip_verify": "true", "tls_min_version": "1.2"})
	q = urlQuery(t, &ClusterOptions{Addrs: []string{"h:1"}, TLSConfig: &tls.Config{}})
	wantKeys(t, q, map[string]string{"tls": "true", "tls_server_name": "",
		"tls_insecure_skip_verify": "", "tls_min_version": ""})
	// The same values in both places are fine; the files come from the fields.
	q = urlQuery(t, &ClusterOptions{Addrs: []string{"h:1"}, TLSServerName: "a",
		TLSMinVersion: tls.VersionTLS13, TLSCAFile: "ca.crt",
		TLSConfig: &tls.Config{ServerName: "a", MinVersion: tls.VersionTLS13}})
	wantKeys(t, q, map[string]string{"tls": "true", "tls_server_name": "a",
		"tls_min_version": "1.3", "tls_ca_file": "ca.crt"})
}

func TestTLSConfigRefused(t *testing.T) {
	for _, c := range []struct {
		opt  ClusterOptions
		want []string // in the message
	}{
		{ClusterOptions{TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}},
			[]string{"TLSConfig.RootCAs", "TLSCAFile", "TLSCADir"}},
		{ClusterOptions{TLSConfig: &tls.Config{Certificates: []tls.Certificate{{}}}},
			[]string{"TLSConfig.Certificates", "TLSCertFile", "TLSKeyFile"}},
		{ClusterOptions{TLSConfig: &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil }}},
			[]string{"GetClientCertificate", "TLSCertFile"}},
		{ClusterOptions{TLSConfig: &tls.Config{CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}}},
			[]string{"CipherSuites"}},
		{ClusterOptions{TLSConfig: &tls.Config{MaxVersion: tls.VersionTLS12}},
			[]string{"MaxVersion"}},
		{ClusterOptions{TLSConfig: &tls.Config{MinVersion: tls.VersionTLS10}},
			[]string{"TLSConfig.MinVersion", "1.2 and 1.3"}},
		{ClusterOptions{TLS: true, TLSMinVersion: tls.VersionTLS11},
			[]string{"TLSMinVersion", "1.2 and 1.3"}},
		{ClusterOptions{TLS: true, TLSMinVersion: 0x1234}, []string{"TLSMinVersion", "0x1234"}},
		{ClusterOptions{TLSServerName: "a", TLSConfig: &tls.Config{ServerName: "b"}},
			[]string{"TLSServerName", "TLSConfig.ServerName"}},
		{ClusterOptions{TLSMinVersion: tls.VersionTLS12, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}},
			[]string{"TLSMinVersion", "TLSConfig.MinVersion"}},
	} {
		c.opt.Addrs = []string{"h:1"}
		_, err := c.opt.URL()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: URL() = %v, want ErrInvalid", c.opt, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not name %q", err, w)
			}
		}
	}
	// NewClusterClient keeps the refusal: every call fails with it.
	cl := NewClusterClient(&ClusterOptions{Addrs: []string{"h:1"},
		TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()}})
	defer cl.Close()
	if err := cl.Ping(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "TLSCAFile") {
		t.Errorf("Ping() = %v, want ErrInvalid naming TLSCAFile", err)
	}
}

func TestTLSFieldsNeedTLS(t *testing.T) {
	// The library refuses TLS fields with TLS off (a forgotten TLS: true).
	for _, opt := range []ClusterOptions{{TLSCAFile: "/nonexistent/ca.crt"},
		{TLSInsecureSkipVerify: true}, {TLSServerName: "localhost"}} {
		opt.Addrs = []string{fmt.Sprintf("127.0.0.1:%d", tlsClosedPort)}
		cl := NewClusterClient(&opt)
		err := cl.Err()
		cl.Close()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "tls") {
			t.Errorf("%+v: Err() = %v, want ErrInvalid about tls", opt, err)
		}
	}
}

func TestErrTLS(t *testing.T) {
	if ErrTLS.Code != -15 {
		t.Errorf("ErrTLS.Code = %d, want -15", ErrTLS.Code)
	}
	if s := Strerror(ErrTLS.Code); !strings.Contains(s, "TLS") {
		t.Errorf("Strerror(-15) = %q", s)
	}
	err := error(&ClientError{Code: -15, Msg: "127.0.0.1:1: certificate verify failed"})
	if !errors.Is(err, ErrTLS) || errors.Is(err, ErrConnect) {
		t.Errorf("errors.Is(%v, ErrTLS) wrong", err)
	}
}

// ------------------------------------------------------- a TLS cluster

// libraryHasTLS reports whether the library takes rediss:// (a build
// without TLS refuses it as an invalid option).
func libraryHasTLS() (bool, string) {
	cl := NewClusterClientURL(fmt.Sprintf("rediss://127.0.0.1:%d?dial_timeout=200ms&read_timeout=500ms",
		tlsClosedPort))
	defer cl.Close()
	if err := cl.Err(); errors.Is(err, ErrInvalid) {
		return false, err.Error()
	}
	return true, ""
}

func harnessHasTLS() bool {
	b, err := os.ReadFile(harnessPath())
	return err == nil && strings.Contains(string(b), "--tls")
}

func TestTLSCluster(t *testing.T) {
	if !harnessHasTLS() {
		t.Skip("harness.py has no --tls")
	}
	if ok, why := libraryHasTLS(); !ok {
		t.Skipf("the library refuses TLS: %s", why)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "tls-cluster")
	out, err := harness("start", "--dir", dir, "--base", strconv.Itoa(tlsBasePort),
		"--primaries", "3", "--replicas", "1", "--tls", "--tls-auth-clients",
		"--owner-pid", strconv.Itoa(os.Getpid()), "--max-life", "600")
	if err != nil {
		t.Fatalf("harness start --tls: %v", err)
	}
	t.Cleanup(func() {
		if _, err := harness("stop", "--dir", dir); err != nil {
			t.Errorf("harness stop: %v", err)
		}
	})
	var st struct {
		TLSDir string `json:"tls_dir"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil || st.TLSDir == "" {
		t.Fatalf("harness output %q: %v (no tls_dir)", out, err)
	}
	cert := func(name string) string { return filepath.Join(st.TLSDir, name) }
	seeds := []string{fmt.Sprintf("127.0.0.1:%d", tlsBasePort), fmt.Sprintf("127.0.0.1:%d", tlsBasePort+1)}
	good := ClusterOptions{Addrs: seeds, TLS: true, TLSCAFile: cert("ca.crt"),
		TLSCertFile: cert("client.crt"), TLSKeyFile: cert("client.key"),
		DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second}

	setGet := func(t *testing.T, cl *ClusterClient, prefix string, n int) {
		t.Helper()
		if err := cl.Err(); err != nil {
			t.Fatalf("connect: %v", err)
		}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%s:%d", prefix, i)
			if err := cl.Set(k, "v"+k, 0); err != nil {
				t.Fatalf("SET %s: %v", k, err)
			}
		}
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("%s:%d", prefix, i)
			if v, err := cl.Get(k); err != nil || v != "v"+k {
				t.Fatalf("GET %s = %q, %v", k, v, err)
			}
		}
	}

	t.Run("SetGetFields", func(t *testing.T) {
		opt := good
		cl := NewClusterClient(&opt)
		defer cl.Close()
		setGet(t, cl, "tls:f", 300)
		nodes, err := cl.NodeStats()
		if err != nil || len(nodes) != 6 {
			t.Fatalf("NodeStats: %d nodes, %v", len(nodes), err)
		}
		for _, n := range nodes {
			p, _ := strconv.Atoi(n.Addr[strings.LastIndexByte(n.Addr, ':')+1:])
			if p < tlsBasePort || p > tlsBasePort+5 {
				t.Errorf("node %s is not on a TLS port of the cluster", n.Addr)
			}
		}
	})

	t.Run("SetGetReadOnlyReplicas", func(t *testing.T) {
		opt := good
		opt.ReadOnly = true
		cl := NewClusterClient(&opt)
		defer cl.Close()
		setGet(t, cl, "tls:ro", 100)
	})

	t.Run("SetGetTLSConfigAndServerName", func(t *testing.T) {
		// go-redis style TLSConfig for the name; the files from the fields.
		opt := good
		opt.TLS = false
		opt.TLSConfig = &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}
		cl := NewClusterClient(&opt)
		defer cl.Close()
		setGet(t, cl, "tls:cfg", 50)
	})

	t.Run("SetGetURL", func(t *testing.T) {
		q := url.Values{}
		q.Set("addr", seeds[1])
		q.Set("tls_ca_file", cert("ca.crt"))
		q.Set("tls_cert_file", cert("client.crt"))
		q.Set("tls_key_file", cert("client.key"))
		q.Set("dial_timeout", "2s")
		cl := NewClusterClientURL("rediss://" + seeds[0] + "?" + q.Encode())
		defer cl.Close()
		setGet(t, cl, "tls:url", 50)
	})

	t.Run("WrongCA", func(t *testing.T) {
		opt := good
		opt.TLSCAFile = cert("other-ca.crt")
		start := time.Now()
		cl := NewClusterClient(&opt)
		defer cl.Close()
		err := cl.Err()
		if !errors.Is(err, ErrTLS) {
			t.Fatalf("wrong CA: Err() = %v, want ErrTLS", err)
		}
		t.Logf("wrong CA: %v (%v)", err, time.Since(start))
		if err := cl.Ping(); !errors.Is(err, ErrTLS) {
			t.Errorf("wrong CA: Ping() = %v, want ErrTLS", err)
		}
	})

	t.Run("WrongCAInsecureSkipVerify", func(t *testing.T) {
		opt := good
		opt.TLSCAFile = cert("other-ca.crt")
		opt.TLSInsecureSkipVerify = true
		cl := NewClusterClient(&opt)
		defer cl.Close()
		setGet(t, cl, "tls:insecure", 20)
	})

	t.Run("NoClientCertificate", func(t *testing.T) {
		// tls-auth-clients yes: refused. With TLS 1.3 the server refuses
		// after the client's handshake is done, so the library sees either
		// the server's alert (ErrTLS, naming tls_cert_file) or a reset on
		// its first write (ErrIO).
		opt := good
		opt.TLSCertFile, opt.TLSKeyFile = "", ""
		opt.DialTimeout, opt.ReadTimeout = time.Second, 2*time.Second
		cl := NewClusterClient(&opt)
		defer cl.Close()
		err := cl.Err()
		switch {
		case errors.Is(err, ErrTLS):
			if !strings.Contains(err.Error(), "tls_cert_file") {
				t.Errorf("no client certificate: %v does not name tls_cert_file", err)
			}
		case errors.Is(err, ErrIO):
		default:
			t.Fatalf("no client certificate: %v, want ErrTLS or ErrIO", err)
		}
		t.Logf("no client certificate: %v", err)
	})

	t.Run("WrongServerName", func(t *testing.T) {
		opt := good
		opt.TLSServerName = "wrong.example"
		cl := NewClusterClient(&opt)
		defer cl.Close()
		if err := cl.Err(); !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "name") {
			t.Fatalf("wrong server name: Err() = %v, want ErrTLS about the name", err)
		}
	})

	t.Run("MissingFile", func(t *testing.T) {
		opt := good
		opt.TLSCAFile = cert("no-such.crt")
		cl := NewClusterClient(&opt)
		defer cl.Close()
		if err := cl.Err(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no-such.crt") {
			t.Fatalf("missing CA file: Err() = %v, want ErrInvalid naming it", err)
		}
	})

	t.Run("PlainClientOnTLSPort", func(t *testing.T) {
		cl := NewClusterClient(&ClusterOptions{Addrs: seeds,
			DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second})
		defer cl.Close()
		if err := cl.Err(); err == nil {
			t.Fatalf("plain client on a TLS port connected")
		} else {
			t.Logf("plain client on a TLS port: %v", err)
		}
	})
}
