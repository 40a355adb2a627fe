package kserve_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"facelive/engine/kserve"
	"facelive/engine/kserve/kservetest"
	"facelive/engine/ortenv"
	"facelive/internal/assets/assetstest"
)

var (
	genOnce sync.Once
	genDir  string
	genErr  error
)

// dfmModel is tools/testmodels' DFM (224×224, blue and red swapped, a disc
// mask), generated once; ONNX Runtime is initialised for the server.
func dfmModel(t *testing.T) string {
	t.Helper()
	lib := os.Getenv(ortenv.EnvLibrary)
	if lib == "" {
		lib = assetstest.Path(t, "onnxruntime/lib/"+ortenv.LibraryName)
	}
	if err := ortenv.Init(lib); err != nil {
		t.Fatal(err)
	}
	root := assetstest.RepoRoot(t)
	genOnce.Do(func() {
		genDir, genErr = os.MkdirTemp("", "facelive-kserve-models-")
		if genErr == nil {
			var out []byte
			out, genErr = exec.Command("/usr/bin/python3", filepath.Join(root, "tools/testmodels/gen.py"), genDir, "--slow-rounds", "1").CombinedOutput()
			if genErr != nil {
				genErr = errors.New(string(out))
			}
		}
	})
	if genErr != nil {
		t.Fatal(genErr)
	}
	return filepath.Join(genDir, "dfm.onnx")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if genDir != "" {
		os.RemoveAll(genDir)
	}
	os.Exit(code)
}

const side = 224

// request is one DFM inference: a grey face in, three outputs out.
func request() (in, out []kserve.Tensor) {
	face := make([]byte, 4*side*side*3)
	for i := 0; i < len(face); i += 4 {
		copy(face[i:], []byte{0, 0, 0, 0x3f}) // 0.5
	}
	in = []kserve.Tensor{{Name: "in_face:0", Datatype: "FP32", Shape: []int64{1, side, side, 3}, Data: face}}
	for _, c := range []int64{1, 3, 1} {
		out = append(out, kserve.Tensor{Datatype: "FP32", Shape: []int64{1, side, side, c}, Data: make([]byte, 4*side*side*int(c))})
	}
	return in, out
}

// fakeClock is the back-off's clock, moved by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClient(t *testing.T, addr string, timeout time.Duration, clock *fakeClock, tlsFiles kserve.TLSFiles) *kserve.Client {
	t.Helper()
	c, err := kserve.New(kserve.Options{Addr: addr, Model: "celeb", Timeout: timeout, MaxInFlight: 2, Now: clock.Now, TLS: tlsFiles})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// outputsNamed fills in the output names the server's metadata gives.
func outputsNamed(t *testing.T, c *kserve.Client, out []kserve.Tensor) {
	t.Helper()
	md, err := c.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Platform != "onnxruntime_onnx" || len(md.Inputs) != 1 || md.Inputs[0].Name != "in_face:0" ||
		md.Inputs[0].Datatype != "FP32" || len(md.Outputs) != 3 {
		t.Fatalf("metadata %+v", md)
	}
	for i := range out {
		out[i].Name = md.Outputs[i].Name
	}
}

func TestInferMatchesTheModel(t *testing.T) {
	srv, err := kservetest.Start("127.0.0.1:0", "celeb", dfmModel(t), kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	c := newClient(t, srv.Addr(), 5*time.Second, &fakeClock{}, kserve.TLSFiles{})
	in, out := request()
	outputsNamed(t, c, out)
	if err := c.Infer(context.Background(), in, out); err != nil {
		t.Fatal(err)
	}
	// The test DFM's celeb face is its input with blue and red swapped:
	// grey stays grey.
	for i := 0; i < len(out[1].Data); i += 4 {
		if string(out[1].Data[i:i+4]) != "\x00\x00\x00\x3f" {
			t.Fatalf("celeb face element %d = % x, want 0.5", i/4, out[1].Data[i:i+4])
		}
	}
	st := c.Stats()
	if !st.Up || st.Requests != 1 || st.Errors != 0 || st.InFlight != 0 || st.RTTP99Ms < st.RTTP50Ms {
		t.Fatalf("stats %+v", st)
	}
}

// Each fault ends in its documented error, the next request after the
// back-off goes through to the server, and a healthy server again makes
// the client whole.
func TestFaultDrills(t *testing.T) {
	model := dfmModel(t)
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name    string
		fault   kservetest.Fault
		delay   time.Duration
		kill    bool
		want    error
		message string
	}{
		{name: "slow server", delay: 500 * time.Millisecond, want: kserve.ErrUnavailable, message: "DeadlineExceeded"},
		{name: "wrong output shapes", fault: kservetest.WrongShape, want: kserve.ErrResponse, message: "want FP32 [1 224 224"},
		{name: "garbage bytes", fault: kservetest.Garbage, want: kserve.ErrResponse, message: "holds 12 bytes"},
		{name: "killed mid-stream", kill: true, want: kserve.ErrUnavailable, message: "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := kservetest.Start("127.0.0.1:0", "celeb", model, kservetest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Kill()
			// The server is healthy first (asked by a patient client: the
			// machine's speed must not matter), then misbehaves.
			in, out := request()
			healthy := newClient(t, srv.Addr(), 10*time.Second, &fakeClock{}, kserve.TLSFiles{})
			outputsNamed(t, healthy, out)
			if err := healthy.Infer(context.Background(), in, out); err != nil {
				t.Fatal(err)
			}
			timeout := 10 * time.Second
			if tc.delay > 0 {
				timeout = 200 * time.Millisecond // the server answers in 500 ms
			}
			clock := &fakeClock{now: time.Unix(1000, 0)}
			c := newClient(t, srv.Addr(), timeout, clock, kserve.TLSFiles{})
			srv.SetDelay(tc.delay)
			srv.SetFault(tc.fault)
			if tc.kill {
				srv.Kill()
			}
			err = c.Infer(context.Background(), in, out)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want %v with %q", err, tc.want, tc.message)
			}
			// Inside the back-off the client does not ask the server.
			asked := srv.Requests()
			if err := c.Infer(context.Background(), in, out); !errors.Is(err, kserve.ErrUnavailable) || !strings.Contains(err.Error(), "retrying in") {
				t.Fatalf("inside the back-off: %v", err)
			}
			if srv.Requests() != asked {
				t.Fatal("the client asked the server inside its back-off")
			}
			st := c.Stats()
			if st.Up || st.Errors != 1 || !strings.Contains(st.LastError, tc.message) {
				t.Fatalf("stats %+v", st)
			}
			if tc.kill || tc.delay > 0 { // (a 200 ms limit is too short for a loaded machine's healthy answer)
				return
			}
			// After it, the server is asked again; healthy, it answers.
			srv.SetDelay(0)
			srv.SetFault(kservetest.Healthy)
			clock.Add(time.Second)
			if err := c.Infer(context.Background(), in, out); err != nil {
				t.Fatalf("after the back-off, the healthy server: %v", err)
			}
			if st := c.Stats(); !st.Up || st.LastError != "" {
				t.Fatalf("stats after recovery %+v", st)
			}
		})
	}
	t.Run("server absent at start", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close() // nothing listens there now
		c := newClient(t, addr, 200*time.Millisecond, &fakeClock{}, kserve.TLSFiles{})
		if _, err := c.Check(context.Background()); !errors.Is(err, kserve.ErrUnavailable) {
			t.Fatalf("check: %v", err)
		}
		in, out := request()
		if err := c.Infer(context.Background(), in, out); !errors.Is(err, kserve.ErrUnavailable) {
			t.Fatalf("infer: %v", err)
		}
	})
	t.Run("killed server comes back", func(t *testing.T) {
		srv, err := kservetest.Start("127.0.0.1:0", "celeb", model, kservetest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		clock := &fakeClock{now: time.Unix(1000, 0)}
		c := newClient(t, srv.Addr(), 2*time.Second, clock, kserve.TLSFiles{})
		in, out := request()
		outputsNamed(t, c, out)
		srv.Kill()
		if err := c.Infer(context.Background(), in, out); !errors.Is(err, kserve.ErrUnavailable) {
			t.Fatalf("infer on a dead server: %v", err)
		}
		again, err := kservetest.Start(srv.Addr(), "celeb", model, kservetest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer again.Kill()
		// gRPC reconnects with its own back-off: retry (each after ours)
		// until it has; it must within a few seconds.
		deadline := time.Now().Add(20 * time.Second)
		for {
			clock.Add(10 * time.Second)
			err := c.Infer(context.Background(), in, out)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no answer from the restarted server: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	t.Run("goroutines flat", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before+2 {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the drills\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestTLS(t *testing.T) {
	model := dfmModel(t)
	dir := t.TempDir()
	caCert, caKey := newCA(t, "facelive test CA")
	otherCA, _ := newCA(t, "someone else's CA")
	serverCert := leaf(t, caCert, caKey)
	srv, err := kservetest.Start("127.0.0.1:0", "celeb", model, kservetest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{serverCert}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	writePEM := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	right, wrong := writePEM("ca.pem", caCert.Raw), writePEM("other.pem", otherCA.Raw)
	t.Run("right CA", func(t *testing.T) {
		c := newClient(t, srv.Addr(), 5*time.Second, &fakeClock{}, kserve.TLSFiles{CA: right})
		in, out := request()
		outputsNamed(t, c, out)
		if err := c.Infer(context.Background(), in, out); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		c := newClient(t, srv.Addr(), time.Second, &fakeClock{}, kserve.TLSFiles{CA: wrong})
		asked := srv.Requests()
		_, err := c.Check(context.Background())
		if !errors.Is(err, kserve.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("check with a wrong CA: %v", err)
		}
		in, out := request()
		if err := c.Infer(context.Background(), in, out); !errors.Is(err, kserve.ErrUnavailable) {
			t.Fatalf("infer with a wrong CA: %v", err)
		}
		if srv.Requests() != asked {
			t.Fatal("a request reached the server over an unverified connection")
		}
	})
	t.Run("CA file that is not PEM", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.pem")
		os.WriteFile(bad, []byte("not a certificate"), 0o644)
		_, err := kserve.New(kserve.Options{Addr: srv.Addr(), Model: "celeb", TLS: kserve.TLSFiles{CA: bad}})
		if err == nil || !strings.Contains(err.Error(), "swapper.server.tls.ca") {
			t.Fatalf("got %v", err)
		}
	})
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// leaf is a server certificate for 127.0.0.1 signed by the CA.
func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
