package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"facelive/engine/config"
	"facelive/engine/kserve"
	"facelive/engine/swap"
)

// hintServer fixes a failure to use the inference server.
const hintServer = "check swapper.server: the server must be up at url, serve model (its ModelMetadata shows the tensors) and, with tls, use a certificate the ca signed"

// remoteKey keeps a swapper that runs on a server apart, in the model
// cache, from a local one and from one on another server.
func remoteKey(s config.Swapper) string {
	if s.Backend != "kserve" {
		return ""
	}
	v := s.Server
	return fmt.Sprintf("|kserve|%s|%s|%s|%d|%d|%s|%s|%s", v.URL, v.Model, v.Version, v.TimeoutMS, v.MaxInFlight,
		fileID(v.TLS.CA), fileID(v.TLS.Cert), fileID(v.TLS.Key))
}

func remoteOptions(s config.Swapper) swap.RemoteOptions {
	v := s.Server
	return swap.RemoteOptions{Addr: v.URL, Model: v.Model, Version: v.Version,
		Timeout: time.Duration(v.TimeoutMS) * time.Millisecond, MaxInFlight: v.MaxInFlight,
		TLS: kserve.TLSFiles{CA: v.TLS.CA, Cert: v.TLS.Cert, Key: v.TLS.Key}}
}

func newRemoteDFM(s config.Swapper, log Logger) (swap.Swapper, error) {
	sw, err := swap.NewRemoteDFM(remoteOptions(s), s.Model, s.Morph)
	if err != nil {
		return nil, remoteKeyed(s, err)
	}
	watchServer(sw, log)
	return sw, nil
}

func newRemoteInSwapper(s config.Swapper, src *swap.SourceFace, log Logger) (swap.Swapper, error) {
	sw, err := swap.NewRemoteInSwapper(remoteOptions(s), s.Model, s.ArcFaceModel, src)
	if err != nil {
		if s.ArcFaceModel != "" && strings.Contains(err.Error(), s.ArcFaceModel) {
			return nil, keyed("swapper.arcface_model", hintArcFace, err)
		}
		return nil, remoteKeyed(s, err)
	}
	watchServer(sw, log)
	return sw, nil
}

// remoteKeyed names the key to fix: a local file, the server's model, or
// the server.
func remoteKeyed(s config.Swapper, err error) error {
	switch {
	case s.Model != "" && strings.Contains(err.Error(), s.Model):
		return keyed("swapper.model", hintModel, err)
	case errors.Is(err, swap.ErrModel):
		return keyed("swapper.server.model", hintServer, err)
	}
	return keyed("swapper.server.url", hintServer, err)
}

// watchServer logs whether the server answers at load, and when that
// changes afterwards.
func watchServer(r swap.Remote, log Logger) {
	c := r.Server()
	if st := c.Stats(); st.LastError != "" {
		log(LevelWarn, "swap: "+c.Where()+" does not answer yet ("+st.LastError+"); faces leave as the unprocessed setting says until it does")
	} else {
		log(LevelInfo, "swap: the swap model runs on "+c.Where())
	}
}

// keepIdle says whether a model given back stays in the cache for reuse.
// A swapper on a server does not: kept idle, its connection would go on
// reconnecting to a server nobody uses, and making it again costs a
// handshake, not a model load.
func keepIdle(m any) bool {
	r, ok := m.(*ref[swap.Swapper])
	if !ok {
		return true
	}
	_, remote := r.v.(swap.Remote)
	return !remote
}
