package smtpclient

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
)

// cramMD5Client implements CRAM-MD5 (RFC 2195) as a sasl.Client. It is
// written here because go-sasl ships no CRAM-MD5 client.
type cramMD5Client struct {
	username, password string
	done               bool
}

// NewCramMD5Client returns a CRAM-MD5 SASL client.
func NewCramMD5Client(username, password string) sasl.Client {
	return &cramMD5Client{username: username, password: password}
}

func (c *cramMD5Client) Start() (string, []byte, error) {
	return "CRAM-MD5", nil, nil
}

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.done {
		return nil, errors.New("CRAM-MD5: unexpected second challenge")
	}
	if len(challenge) == 0 {
		return nil, errors.New("CRAM-MD5: empty challenge")
	}
	c.done = true
	mac := hmac.New(md5.New, []byte(c.password))
	mac.Write(challenge)
	return []byte(c.username + " " + hex.EncodeToString(mac.Sum(nil))), nil
}

// loginClient implements AUTH LOGIN (draft-murchison-sasl-login) the way
// servers expect it in practice: no initial response, then the user name
// and the password in answer to the two 334 prompts, whatever their text.
// go-sasl's LOGIN client sends the user name as an initial response and
// accepts only the prompt "Password:", which some servers word otherwise.
type loginClient struct {
	username, password string
	step               int
}

func (c *loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (c *loginClient) Next([]byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		return []byte(c.username), nil
	case 2:
		return []byte(c.password), nil
	}
	return nil, errors.New("LOGIN: unexpected third challenge")
}

// supportedMechs are the mechanisms the probe can run, in the order tried
// when the user names none. Inside TLS PLAIN comes first: one round trip,
// and the channel protects it. In clear (only with --auth-plaintext),
// CRAM-MD5 comes first because it does not send the password itself.
var (
	mechOrderTLS   = []string{"PLAIN", "LOGIN", "CRAM-MD5"}
	mechOrderClear = []string{"CRAM-MD5", "PLAIN", "LOGIN"}
)

// chooseMechs returns the mechanisms to try: the user's (in their order,
// only those we implement) filtered by what the server advertised, or our
// preference order among the advertised ones.
func chooseMechs(wanted, advertised []string, tlsActive bool) ([]string, error) {
	adv := map[string]bool{}
	for _, m := range advertised {
		adv[strings.ToUpper(m)] = true
	}
	order := mechOrderTLS
	if !tlsActive {
		order = mechOrderClear
	}
	if len(wanted) > 0 {
		var out []string
		for _, w := range wanted {
			w = strings.ToUpper(w)
			if !implemented(w) {
				return nil, fmt.Errorf("AUTH mechanism %s is not supported (supported: PLAIN, LOGIN, CRAM-MD5)", w)
			}
			if adv[w] {
				out = append(out, w)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("the server does not offer %s (it offers: %s)", strings.Join(wanted, ", "), strings.Join(advertised, " "))
		}
		return out, nil
	}
	var out []string
	for _, m := range order {
		if adv[m] {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the server offers no mechanism the probe supports (it offers: %s; supported: PLAIN, LOGIN, CRAM-MD5)", strings.Join(advertised, " "))
	}
	return out, nil
}

// SupportedMech reports whether the probe can run mechanism m (any case).
func SupportedMech(m string) bool { return implemented(strings.ToUpper(m)) }

func implemented(m string) bool {
	for _, o := range mechOrderTLS {
		if o == m {
			return true
		}
	}
	return false
}

func newSASLClient(mech, user, pass string) sasl.Client {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainClient("", user, pass)
	case "LOGIN":
		return &loginClient{username: user, password: pass}
	default:
		return NewCramMD5Client(user, pass)
	}
}
