"""TLS options: redis-py's ssl_* keywords and libclusterc's tls_* names,
turned into the URL keys of clusterc_options_parse_url.

    redis-py keyword                    libclusterc (URL key / keyword)
    ssl=True                            tls=true
    ssl_ca_certs="ca.crt"               tls_ca_file
    ssl_ca_path="/etc/ssl/certs"        tls_ca_dir
    ssl_certfile="client.crt"           tls_cert_file
    ssl_keyfile="client.key"            tls_key_file
    ssl_cert_reqs="none" | None         tls_insecure_skip_verify=true
      ("required", "optional",          (nothing: the default, certificates
       ssl.CERT_REQUIRED/OPTIONAL)       and host name checked)
    ssl_check_hostname=True|False       (nothing: see below)
    ssl_min_version=ssl.TLSVersion.TLSv1_2 / "1.2"    tls_min_version=1.2
    ssl_min_version=ssl.TLSVersion.TLSv1_3 / "1.3"    tls_min_version=1.3
    (no redis-py name)                  tls_server_name (SNI and the name checked)

Either family may be used, or both for different options; naming one
option twice with different values is an InvalidOptionError.

Differences from redis-py, by necessity (the C library does the TLS):
 - ssl_check_hostname=False does not turn the host-name check off while
   certificates are checked: the library checks the name (or IP SAN)
   whenever it checks the certificate. A certificate whose name is not the
   dialled host works with tls_server_name="its name"; ssl_cert_reqs="none"
   turns every check off.
 - ssl_cert_reqs=None means no checking at all, as in redis-py.
 - ssl_ca_data (PEM text) and ssl_password (an encrypted key) are refused:
   the library reads PEM files, with unencrypted keys.
 - TLS 1.0 and 1.1 are refused as a minimum: the library speaks 1.2 and 1.3.
 - The other TLS options need TLS on (ssl=True, tls=True or a rediss://
   URL): with TLS off the library refuses them (InvalidOptionError: a
   forgotten ssl=True), where redis-py ignores them.
"""
from .errors import InvalidOptionError, EINVAL

try:
    import ssl as _ssl
except ImportError:          # pragma: no cover - a Python built without OpenSSL
    _ssl = None

# The library's TLS option names (URL keys and tls_* keywords), in order.
TLS_KEYS = ("tls", "tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file",
            "tls_server_name", "tls_insecure_skip_verify", "tls_min_version")

# redis-py keyword -> library name, for the file options (same value).
_FILE_ALIASES = (("ssl_ca_certs", "tls_ca_file"), ("ssl_ca_path", "tls_ca_dir"),
                 ("ssl_certfile", "tls_cert_file"), ("ssl_keyfile", "tls_key_file"))

# Every keyword tls_params takes (the client's constructor and from_url
# accept these).
SSL_KEYWORDS = ("ssl", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile",
                "ssl_cert_reqs", "ssl_check_hostname", "ssl_min_version", "ssl_ca_data",
                "ssl_password") + TLS_KEYS

UNSET = object()   # ssl_cert_reqs's "not given" (None means CERT_NONE in redis-py)


def _fail(msg):
    raise InvalidOptionError(msg, EINVAL)


def _flag(name, value):
    """A boolean option: a bool, or the URL's true/false/1/0/yes/no."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "1", "yes", "on"):
            return True
        if v in ("false", "0", "no", "off"):
            return False
    _fail("%s: expected True or False, got %r" % (name, value))


def _path(name, value):
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    elif hasattr(value, "__fspath__"):
        value = value.__fspath__()
        if isinstance(value, bytes):
            value = value.decode()
    if not isinstance(value, str) or not value or "\0" in value:
        _fail("%s: expected a file or directory path, got %r" % (name, value))
    return value


def _skip_verify(value):
    """ssl_cert_reqs -> True (no checks), False (checks); redis-py's values."""
    if value is None:                # redis-py: None is ssl.CERT_NONE
        return True
    if _ssl is not None and isinstance(value, _ssl.VerifyMode):
        return value == _ssl.CERT_NONE
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("none", "cert_none"):
            return True
        if v in ("optional", "required", "cert_optional", "cert_required"):
            return False
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value == 0            # ssl.CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED
    _fail("ssl_cert_reqs: expected \"none\", \"optional\", \"required\" or an "
          "ssl.CERT_* constant, got %r" % (value,))


def _min_version(name, value):
    """ssl.TLSVersion or "1.2"/"1.3"/"TLSv1_2"... -> "1.2", "1.3" or None."""
    if value is None:
        return None
    if _ssl is not None and isinstance(value, _ssl.TLSVersion):
        if value == _ssl.TLSVersion.MINIMUM_SUPPORTED:
            return None
        if value in (_ssl.TLSVersion.TLSv1_3, _ssl.TLSVersion.MAXIMUM_SUPPORTED):
            return "1.3"
        if value == _ssl.TLSVersion.TLSv1_2:
            return "1.2"
        _fail("%s: %s is not available: libclusterc speaks TLS 1.2 and 1.3 only "
              "(use ssl.TLSVersion.TLSv1_2 or TLSv1_3)" % (name, value.name))
    if isinstance(value, str):
        v = value.strip().lower().replace("_", ".")
        if v.startswith("tlsv"):
            v = v[4:]
        if v in ("1.2", "1.3"):
            return v
        if v in ("1", "1.0", "1.1", "ssl3", "sslv3"):
            _fail("%s: %r is not available: libclusterc speaks TLS 1.2 and 1.3 only"
                  % (name, value))
    _fail("%s: expected \"1.2\", \"1.3\" or ssl.TLSVersion.TLSv1_2 / TLSv1_3, got %r"
          % (name, value))


def _one(pairs, what):
    """The one value given for an option under its names [(name, value)]
    (None when none); different values under two names are refused."""
    given = [(n, v) for n, v in pairs if v is not None]
    for n, v in given[1:]:
        if v != given[0][1]:
            _fail("%s=%r and %s=%r set %s twice, differently"
                  % (given[0][0], given[0][1], n, v, what))
    return given[0][1] if given else None


def tls_params(ssl=None, ssl_ca_certs=None, ssl_ca_path=None, ssl_certfile=None,
               ssl_keyfile=None, ssl_cert_reqs=UNSET, ssl_check_hostname=None,
               ssl_min_version=None, ssl_ca_data=None, ssl_password=None,
               tls=None, tls_ca_file=None, tls_ca_dir=None, tls_cert_file=None,
               tls_key_file=None, tls_server_name=None, tls_insecure_skip_verify=None,
               tls_min_version=None):
    """[(url_key, value)] for the TLS options given (see the module
    docstring for the mapping); options not given are left out, so the
    library's defaults (or a rediss:// scheme) apply."""
    if ssl_ca_data is not None:
        _fail("ssl_ca_data: libclusterc reads CA certificates from files; write the PEM "
              "text to a file and pass ssl_ca_certs (tls_ca_file) instead")
    if ssl_password is not None:
        _fail("ssl_password: encrypted private keys are not supported; pass an "
              "unencrypted key file as ssl_keyfile (tls_key_file)")
    ssl_check_hostname = _flag("ssl_check_hostname", ssl_check_hostname)  # checked, see doc
    out = []
    # Only "on" is written: off is the default, and a False here (redis-py's
    # default ssl=False) must not undo a rediss:// scheme.
    if _flag("ssl", ssl) or _flag("tls", tls):
        out.append(("tls", "true"))
    local = {"ssl_ca_certs": ssl_ca_certs, "ssl_ca_path": ssl_ca_path,
             "ssl_certfile": ssl_certfile, "ssl_keyfile": ssl_keyfile,
             "tls_ca_file": tls_ca_file, "tls_ca_dir": tls_ca_dir,
             "tls_cert_file": tls_cert_file, "tls_key_file": tls_key_file}
    for alias, key in _FILE_ALIASES:
        v = _one([(alias, _path(alias, local[alias])), (key, _path(key, local[key]))], key)
        if v is not None:
            out.append((key, v))
    if tls_server_name is not None:
        if not isinstance(tls_server_name, str) or not tls_server_name \
                or "\0" in tls_server_name:
            _fail("tls_server_name: expected a host name, got %r" % (tls_server_name,))
        out.append(("tls_server_name", tls_server_name))
    reqs = None if ssl_cert_reqs is UNSET else _skip_verify(ssl_cert_reqs)
    skip = _one([("ssl_cert_reqs", reqs),
                 ("tls_insecure_skip_verify",
                  _flag("tls_insecure_skip_verify", tls_insecure_skip_verify))],
                "certificate checking (ssl_cert_reqs=\"none\" is tls_insecure_skip_verify=True)")
    if skip:
        out.append(("tls_insecure_skip_verify", "true"))
    ver = _one([("ssl_min_version", _min_version("ssl_min_version", ssl_min_version)),
                ("tls_min_version", _min_version("tls_min_version", tls_min_version))],
               "the minimum TLS version")
    if ver is not None:
        out.append(("tls_min_version", ver))
    return out


# redis-py's URL query keys (from_url) -> tls_params keywords.
_URL_SSL_KEYS = ("ssl", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile",
                 "ssl_cert_reqs", "ssl_check_hostname", "ssl_min_version")


def translate_query(pairs):
    """A URL's query [(key, value)] with redis-py's ssl_* keys replaced by
    the library's tls_* keys (other keys as they are, in place)."""
    ssl_kw, rest, first = {}, [], None
    for i, (k, v) in enumerate(pairs):
        if k in _URL_SSL_KEYS:
            if k in ssl_kw:
                _fail("URL key %s given twice" % k)
            if first is None:
                first = len(rest)
            if v == "":
                continue                 # an empty value keeps the default
            ssl_kw[k] = v
        else:
            rest.append((k, v))
    if first is None:
        return pairs
    return rest[:first] + tls_params(**ssl_kw) + rest[first:]
