package bridge

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"facelive/engine/frame"
	"facelive/engine/frame/frametest"
	"facelive/engine/kserve/kservetest"
)

// Fault drills at start, through the C ABI's Go side: with the same .dfm
// named locally (swapper.model), the pipeline loads without the server;
// every frame comes back, unswapped (unprocessed pass), last_error says
// why; and when the server turns up, faces are swapped without any config
// change.
func TestKServeDrillsAtStart(t *testing.T) {
	models := kserveModels(t)
	dfm := filepath.Join(models, "dfm.onnx")
	bgr, _ := faceScene(t)
	scene := frametest.FromBGR(bgr, 1280, 720, frame.BGRA, 0)

	// flow submits frames until cond holds on the metrics, checking that
	// each one comes back.
	flow := func(t *testing.T, h uint64, what string, cond func(faces int, up bool, lastErr string) bool) {
		t.Helper()
		out := frametest.Blank(scene)
		in, o := cFrame(scene), cFrame(out)
		deadline := time.Now().Add(30 * time.Second)
		for pts := int64(1); ; pts++ {
			in.PtsNs = pts
			if st := Submit(h, in); st != OK && st != EAGAIN {
				t.Fatalf("submit: %d %s", st, lastErr(h))
			}
			if st := Get(h, o, 5000); st != OK {
				t.Fatalf("get: %d: frames must keep flowing", st)
			}
			m := bridgeMetrics(t, h)
			up := m.Remote != nil && m.Remote.Up
			if m.FacePipeline == "ready" && cond(m.Faces, up, m.LastError) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("30 s without %s: face_pipeline %q faces %d remote %+v last_error %q", what, m.FacePipeline, m.Faces, m.Remote, m.LastError)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	t.Run("server absent, then up", func(t *testing.T) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close()
		h := mustInit(t, fmt.Sprintf(`{"mode":"realtime","swapper":{"kind":"dfm","model":%q,"backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":2000}}}`,
			dfm, addr))
		flow(t, h, "the server's absence in last_error", func(faces int, up bool, le string) bool {
			return faces == 0 && !up && strings.Contains(le, "unavailable") && strings.Contains(le, addr)
		})
		srv, err := kservetest.Start(addr, "celeb", dfm, kservetest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Kill()
		flow(t, h, "a swapped face once the server is up", func(faces int, up bool, le string) bool {
			return faces > 0 && up
		})
	})

	t.Run("TLS with a wrong CA", func(t *testing.T) {
		ca, caKey := testCA(t, "facelive test CA")
		other, _ := testCA(t, "someone else's CA")
		srv, err := kservetest.Start("127.0.0.1:0", "celeb", dfm, kservetest.Options{
			TLS: &tls.Config{Certificates: []tls.Certificate{testLeaf(t, ca, caKey)}}})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Kill()
		wrong := filepath.Join(t.TempDir(), "other-ca.pem")
		if err := os.WriteFile(wrong, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		h := mustInit(t, fmt.Sprintf(`{"mode":"realtime","swapper":{"kind":"dfm","model":%q,"backend":"kserve","server":{"url":%q,"model":"celeb","timeout_ms":2000,"tls":{"ca":%q}}}}`,
			dfm, srv.Addr(), wrong))
		flow(t, h, "the certificate error in last_error", func(faces int, up bool, le string) bool {
			return faces == 0 && !up && strings.Contains(le, "certificate")
		})
		if srv.Requests() != 0 {
			t.Fatal("a request reached the server over an unverified connection")
		}
	})
}

func testCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
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

func testLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
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
