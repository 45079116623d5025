// Package saslserver holds the server side of the SASL mechanisms that
// go-sasl provides only as clients: LOGIN and CRAM-MD5. The scenario
// server and the tests use them to stand in for real submission servers;
// they are written here because no maintained Go library offers them.
package saslserver

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
)

// ErrUnexpected is returned for a response after the exchange ended.
var ErrUnexpected = errors.New("sasl: unexpected response")

// loginServer is LOGIN (draft-murchison-sasl-login): user name, then
// password, each in answer to a prompt; a client may send the user name as
// an initial response.
type loginServer struct {
	authenticate func(username, password string) error
	username     string
	state        int
}

// NewLoginServer returns a LOGIN server that checks the credentials with
// authenticate.
func NewLoginServer(authenticate func(username, password string) error) sasl.Server {
	return &loginServer{authenticate: authenticate}
}

func (a *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch a.state {
	case 0:
		a.state = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		a.username = string(response)
		a.state = 2
		return []byte("Password:"), false, nil
	case 1:
		a.username = string(response)
		a.state = 2
		return []byte("Password:"), false, nil
	case 2:
		a.state = 3
		return nil, true, a.authenticate(a.username, string(response))
	}
	return nil, true, ErrUnexpected
}

// cramServer is CRAM-MD5 (RFC 2195).
type cramServer struct {
	challenge string
	secret    func(username string) (password string, ok bool)
	fail      error
	sent      bool
}

// NewCramMD5Server returns a CRAM-MD5 server sending challenge (RFC 2195
// wants "<unique.timestamp@host>") and looking up the shared secret of a
// user with secret; fail is returned for an unknown user or a wrong
// digest.
func NewCramMD5Server(challenge string, secret func(username string) (string, bool), fail error) sasl.Server {
	return &cramServer{challenge: challenge, secret: secret, fail: fail}
}

func (c *cramServer) Next(response []byte) ([]byte, bool, error) {
	if !c.sent {
		c.sent = true
		return []byte(c.challenge), false, nil
	}
	user, digest, ok := strings.Cut(string(response), " ")
	if !ok {
		return nil, true, c.fail
	}
	pass, known := c.secret(user)
	if !known {
		return nil, true, c.fail
	}
	mac := hmac.New(md5.New, []byte(pass))
	mac.Write([]byte(c.challenge))
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(digest)) {
		return nil, true, c.fail
	}
	return nil, true, nil
}
