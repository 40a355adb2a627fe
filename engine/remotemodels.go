package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"facelive/engine/config"
	"facelive/engine/kserve"
	"facelive/engine/swap"
	"facelive/vram"
)

// hintServer fixes a failure to use the inference server.
const hintServer = "check swapper.server: the server must be up at url, serve model (its ModelMetadata shows the tensors) and, with tls, use a certificate the ca signed"

// keyFallback is the local model that swaps while the server has no
// fresh answer.
const keyFallback = "swapper.server.fallback"

// hintFallback fixes a fallback model that does not load.
const hintFallback = "choose a valid local model in swapper.server.fallback, of the swapper's kind and the server's face size " +
	"(a DeepFaceLive .dfm for kind dfm, inswapper_128.onnx for inswapper), or remove the key (faces then leave as unprocessed says while the server is away)"

// remoteKey keeps a swapper that runs on a server apart, in the model
// cache, from a local one and from one on another server.
func remoteKey(s config.Swapper) string {
	if s.Backend != "kserve" {
		return ""
	}
	v := s.Server
	return fmt.Sprintf("|kserve|%s|%s|%s|%d|%d|%s|%s|%s|%s", v.URL, v.Model, v.Version, v.TimeoutMS, v.MaxInFlight,
		fileID(v.TLS.CA), fileID(v.TLS.Cert), fileID(v.TLS.Key), fileID(v.Fallback))
}

func remoteOptions(s config.Swapper) swap.RemoteOptions {
	v := s.Server
	return swap.RemoteOptions{Addr: v.URL, Model: v.Model, Version: v.Version,
		Timeout: time.Duration(v.TimeoutMS) * time.Millisecond, MaxInFlight: v.MaxInFlight,
		TLS: kserve.TLSFiles{CA: v.TLS.CA, Cert: v.TLS.Cert, Key: v.TLS.Key}}
}

func newRemoteDFM(s config.Swapper, log Logger) (swap.Swapper, error) {
	// The face size comes from a local .dfm when there is one: the same
	// model (swapper.model), else the fallback, which must match it.
	local, opts := s.Model, []swap.Option(nil)
	if local == "" && s.Server.Fallback != "" {
		local, opts = s.Server.Fallback, []swap.Option{swap.WithModelKey(keyFallback)}
	}
	sw, err := swap.NewRemoteDFM(remoteOptions(s), local, s.Morph, opts...)
	if err != nil {
		return nil, remoteKeyed(s, err)
	}
	watchServer(sw, s.Server.Fallback, log)
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
	watchServer(sw, s.Server.Fallback, log)
	return sw, nil
}

// remoteKeyed names the key to fix: a local file, the server's model, or
// the server.
func remoteKeyed(s config.Swapper, err error) error {
	switch {
	case s.Model != "" && strings.Contains(err.Error(), s.Model):
		return keyed("swapper.model", hintModel, err)
	case s.Server.Fallback != "" && strings.Contains(err.Error(), s.Server.Fallback):
		return keyed(keyFallback, hintFallback, err)
	case errors.Is(err, swap.ErrModel):
		return keyed("swapper.server.model", hintServer, err)
	}
	return keyed("swapper.server.url", hintServer, err)
}

// watchServer logs whether the server answers at load (the swap stage
// logs when that changes afterwards: remoteRunner.note).
func watchServer(r swap.Remote, fallback string, log Logger) {
	c := r.Server()
	if st := c.Stats(); st.LastError != "" {
		log(LevelWarn, "swap: "+c.Where()+" does not answer yet ("+st.LastError+"); "+whileAway(fallback)+" until it does")
	} else {
		log(LevelInfo, "swap: the swap model runs on "+c.Where())
	}
}

// whileAway says what happens to the faces while the server does not
// answer.
func whileAway(fallback string) string {
	if fallback == "" {
		return "faces leave as the unprocessed setting says"
	}
	return fmt.Sprintf("faces are swapped with the local fallback model %q", fallback)
}

// loadFallback checks out the local fallback model of sw, a swapper on an
// inference server, when swapper.server.fallback names one: the same
// swapper kind and source face as sw, run here with ONNX Runtime. It is
// the cache entry a local-backend config with that model would use. A
// fallback that does not load, or swaps faces of another size than sw,
// fails the load with its key named, as a local model does.
func (m *faceModels) loadFallback(cfg config.Config, face string, sw swap.Swapper, swapKey func(config.Swapper, string) string, assets string) error {
	s := cfg.Swapper
	if _, remote := sw.(swap.Remote); !remote || s.Server.Fallback == "" {
		return nil
	}
	local := s
	local.Backend, local.Server, local.Model = "local", config.Server{}, s.Server.Fallback
	size := max(vram.SizeOf(local.Model, local.ArcFaceModel), 1<<20)
	fb, err := checkout(&m.held, swapKey(local, face), size, func() (swap.Swapper, func(), error) {
		fb, err := newFallback(local, assets, m)
		if err != nil {
			return nil, nil, err
		}
		return fb, func() { fb.Close() }, nil
	})
	if err != nil {
		return err
	}
	if fb.Size() != sw.Size() {
		return keyed(keyFallback, hintFallback, fmt.Errorf("%s %q swaps %dx%d faces, the server's model %dx%d: a fallback must take the same faces",
			keyFallback, s.Server.Fallback, fb.Size(), fb.Size(), sw.Size(), sw.Size()))
	}
	if m.fallbacks == nil {
		m.fallbacks = map[swap.Swapper]swap.Swapper{}
	}
	m.fallbacks[sw] = fb
	return nil
}

// newFallback builds the local fallback model: s is the swapper with
// backend local and model = the fallback file.
func newFallback(s config.Swapper, assets string, m *faceModels) (swap.Swapper, error) {
	opts := []swap.Option{m.swapOptions(), swap.WithModelKey(keyFallback)}
	var sw swap.Swapper
	var err error
	switch s.Kind {
	case "dfm":
		sw, err = orNil(swap.NewDFM(s.Model, s.Morph, opts...))
	case "inswapper":
		src, perr := sourcePhoto(s, assets, m)
		if perr != nil {
			return nil, perr
		}
		sw, err = orNil(swap.NewInSwapper(s.Model, s.ArcFaceModel, src, opts...))
		if err != nil && s.ArcFaceModel != "" && strings.Contains(err.Error(), s.ArcFaceModel) {
			return nil, keyed("swapper.arcface_model", hintArcFace, err)
		}
	default:
		return nil, keyed(keyFallback, hintFallback, fmt.Errorf("%s: swapper.kind %q has no local fallback model", keyFallback, s.Kind))
	}
	return sw, keyed(keyFallback, hintFallback, err)
}

// fallbackOf is the local fallback model of sw (nil without one).
func (m *faceModels) fallbackOf(sw swap.Swapper) swap.Swapper { return m.fallbacks[sw] }

// fallbackName names m's fallback model for messages ("" without one).
func (m *faceModels) fallbackName() string {
	if len(m.fallbacks) == 0 {
		return ""
	}
	return m.key.Swapper.Server.Fallback
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
