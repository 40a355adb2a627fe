package swap

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"facelive/engine/kserve"
	"facelive/engine/kserve/kservetest"
)

// serve starts the stand-in server on a test model under the name "m".
func serve(t *testing.T, model string) *kservetest.Server {
	t.Helper()
	srv, err := kservetest.Start("127.0.0.1:0", "m", testModel(t, model), kservetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Kill)
	return srv
}

func remoteOpts(addr string) RemoteOptions {
	return RemoteOptions{Addr: addr, Model: "m", Timeout: 30 * time.Second, MaxInFlight: 2}
}

// cropPattern is a crop with every byte value in it.
func cropPattern(size int) []byte {
	b := make([]byte, size*size*3)
	for i := range b {
		b[i] = byte(i*7 + i/size)
	}
	return b
}

// The server runs the same model: the same face and mask, to the byte and
// bit, as the local swapper (morph included).
func TestRemoteSwappersMatchLocal(t *testing.T) {
	t.Run("dfm with morph", func(t *testing.T) {
		srv := serve(t, "dfm_morph.onnx")
		local, err := NewDFM(testModel(t, "dfm_morph.onnx"), 0.3)
		if err != nil {
			t.Fatal(err)
		}
		defer local.Close()
		remote, err := NewRemoteDFM(remoteOpts(srv.Addr()), "", 0.3)
		if err != nil {
			t.Fatal(err)
		}
		defer remote.Close()
		compare(t, local, remote)
		local.SetMorph(0.9)
		remote.SetMorph(0.9)
		compare(t, local, remote)
	})
	t.Run("inswapper", func(t *testing.T) {
		srv := serve(t, "inswapper.onnx")
		model, arc := testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx")
		src := solidSource([3]byte{200, 100, 30})
		local, err := NewInSwapper(model, arc, src)
		if err != nil {
			t.Fatal(err)
		}
		defer local.Close()
		remote, err := NewRemoteInSwapper(remoteOpts(srv.Addr()), model, arc, src)
		if err != nil {
			t.Fatal(err)
		}
		defer remote.Close()
		compare(t, local, remote)
	})
}

func compare(t *testing.T, local, remote Swapper) {
	t.Helper()
	size := local.Size()
	if remote.Size() != size {
		t.Fatalf("size %d, local %d", remote.Size(), size)
	}
	crop := cropPattern(size)
	lo, ro := make([]byte, 3*size*size), make([]byte, 3*size*size)
	lm, rm := make([]float32, size*size), make([]float32, size*size)
	if err := local.Swap(crop, lo, lm); err != nil {
		t.Fatal(err)
	}
	if err := remote.Swap(crop, ro, rm); err != nil {
		t.Fatal(err)
	}
	if string(lo) != string(ro) {
		t.Fatal("the server's face differs from the local model's")
	}
	for i := range lm {
		if lm[i] != rm[i] {
			t.Fatalf("mask[%d] = %v, local %v", i, rm[i], lm[i])
		}
	}
}

// A server running another model than the swapper needs is ErrModel,
// naming the key, what was found and what is wanted, as a local file.
func TestRemoteWrongModel(t *testing.T) {
	for _, tc := range []struct {
		name, served string
		build        func(addr string) error
		want         []string
	}{
		{"inswapper served as a DFM", "inswapper.onnx", func(addr string) error {
			_, err := NewRemoteDFM(remoteOpts(addr), "", DefaultMorph)
			return err
		}, []string{"swapper.server.model", `model "m" on 127.0.0.1`, "is not a DeepFaceLive DFM model", "found inputs [", "want input in_face:0"}},
		{"DFM served as an InSwapper", "dfm.onnx", func(addr string) error {
			_, err := NewRemoteInSwapper(remoteOpts(addr), testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), solidSource([3]byte{1, 2, 3}))
			return err
		}, []string{"swapper.server.model", "is not an InSwapper model", "found inputs [in_face:0", "want inputs target 1×3×128×128"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.served)
			err := tc.build(srv.Addr())
			if !errors.Is(err, ErrModel) {
				t.Fatalf("got %v, want ErrModel", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Fatalf("%q lacks %q", err, s)
				}
			}
		})
	}
}

// A server absent at load: a DFM with the same .dfm here starts and
// swaps nothing until the server answers (ErrUnavailable); without it,
// the load fails saying why. An InSwapper (always 128) starts.
func TestRemoteServerAbsentAtLoad(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	o := remoteOpts(addr)
	o.Timeout = 300 * time.Millisecond
	if _, err := NewRemoteDFM(o, "", DefaultMorph); err == nil || !strings.Contains(err.Error(), "set swapper.model to the same .dfm") {
		t.Fatalf("DFM without a local file: %v", err)
	}
	d, err := NewRemoteDFM(o, testModel(t, "dfm.onnx"), DefaultMorph)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	size := d.Size()
	err = d.Swap(cropPattern(size), make([]byte, 3*size*size), make([]float32, size*size))
	if !errors.Is(err, kserve.ErrUnavailable) {
		t.Fatalf("swap with no server: %v", err)
	}
	s, err := NewRemoteInSwapper(o, testModel(t, "inswapper.onnx"), testModel(t, "arcface.onnx"), solidSource([3]byte{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
