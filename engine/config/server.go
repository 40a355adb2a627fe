package config

// checkServer says what backend kserve needs, before anything dials: only
// for the swappers it serves (dfm, inswapper), as swapper.model is checked
// only for the kinds that load one.
func (s Swapper) checkServer() error {
	if s.Backend != "kserve" || (s.Kind != "dfm" && s.Kind != "inswapper") {
		return nil
	}
	v := s.Server
	switch {
	case v.URL == "":
		return &Error{Key: "swapper.server.url", Msg: `swapper.backend "kserve" needs "swapper.server.url": host:port of the server's gRPC endpoint, such as "gpu-box:8001"`}
	case v.Model == "":
		return &Error{Key: "swapper.server.model", Msg: `swapper.backend "kserve" needs "swapper.server.model": the model's name in the server's model repository`}
	case (v.TLS.Cert == "") != (v.TLS.Key == ""):
		return &Error{Key: "swapper.server.tls.cert", Msg: `"swapper.server.tls.cert" and "swapper.server.tls.key" go together (mutual TLS): set both or neither`}
	case v.TLS.Cert != "" && v.TLS.CA == "":
		return &Error{Key: "swapper.server.tls.ca", Msg: `mutual TLS needs "swapper.server.tls.ca": the CA that signed the server's certificate`}
	}
	return nil
}
