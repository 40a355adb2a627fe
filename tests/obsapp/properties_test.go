//go:build obsapp

package obsapp

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The filter's properties in the real app: OBS's own Filters dialog opened
// on the camera source (through obs-websocket, which Debian's OBS bundles)
// while the filter swaps. OBS builds the view from the plugin's properties;
// the dialog must show without OBS failing, and the screen must change.
// With FACELIVE_OBS_APP_OUT set the screenshot is kept there as
// obs-properties.png (the README's picture of the properties comes from it).
func TestOBSAppFilterProperties(t *testing.T) {
	need(t, "ffmpeg")
	var before, after image.Image
	_, log := recordWith(t, `"swapper.kind": "photo"`, func(obs runningOBS) {
		ws, err := dialOBS(obs.wsPort)
		if err != nil {
			var lines []string
			for _, l := range strings.Split(obs.log(), "\n") {
				if strings.Contains(l, "obs-websocket") {
					lines = append(lines, l)
				}
			}
			t.Fatalf("obs-websocket on port %d: %v; its log lines:\n%s", obs.wsPort, err, strings.Join(lines, "\n"))
		}
		defer ws.Close()
		time.Sleep(time.Second) // a frame or two of the swapped face in the preview
		before = screenshot(t, obs.pid)
		if err := ws.request("OpenInputFiltersDialog", `{"inputName": "Camera clip"}`); err != nil {
			t.Fatalf("OpenInputFiltersDialog: %v", err)
		}
		time.Sleep(3 * time.Second) // the dialog opens and lays out the properties
		after = screenshot(t, obs.pid)
	})
	if changed := changedFraction(before, after); changed < 0.05 {
		t.Errorf("the screen hardly changed when the Filters dialog opened (%.1f %% of the pixels)", 100*changed)
	}
	if strings.Contains(log, "[facelive]") && strings.Contains(log, "error: [facelive]") {
		t.Errorf("the plugin logged an error while its properties were shown:\n%s", log)
	}
	if dir := os.Getenv("FACELIVE_OBS_APP_OUT"); dir != "" {
		os.MkdirAll(dir, 0o755)
		f, err := os.Create(filepath.Join(dir, "obs-properties.png"))
		if err == nil {
			png.Encode(f, after)
			f.Close()
		}
	}
}

// screenshot grabs OBS's X display (its DISPLAY and XAUTHORITY, read from
// the process) with ffmpeg's x11grab.
func screenshot(t *testing.T, pid int) image.Image {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	var display, xauth string
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "DISPLAY="); ok {
			display = v
		}
		if v, ok := strings.CutPrefix(kv, "XAUTHORITY="); ok {
			xauth = v
		}
	}
	if display == "" {
		t.Fatalf("OBS (pid %d) has no DISPLAY", pid)
	}
	cmd := exec.Command("ffmpeg", "-loglevel", "error", "-f", "x11grab", "-video_size", "1280x1024", "-i", display,
		"-frames:v", "1", "-f", "image2pipe", "-vcodec", "png", "-")
	cmd.Env = append(os.Environ(), "XAUTHORITY="+xauth)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("screenshot of %s: %v: %s", display, err, stderr.String())
	}
	img, err := png.Decode(&out)
	if err != nil {
		t.Fatalf("screenshot of %s: %v", display, err)
	}
	return img
}

// changedFraction is the share of pixels that differ between a and b by
// more than a few levels.
func changedFraction(a, b image.Image) float64 {
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		return 0
	}
	r := a.Bounds()
	changed := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if absDiff(r1, r2)+absDiff(g1, g2)+absDiff(b1, b2) > 3*8*257 {
				changed++
			}
		}
	}
	return float64(changed) / float64(r.Dx()*r.Dy())
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// obsWS is a minimal client of obs-websocket's protocol 5 (JSON over a
// WebSocket): enough to identify and send requests. RFC 6455 framing by
// hand: text frames, masked from the client, none fragmented.
type obsWS struct {
	conn net.Conn
	r    *bufio.Reader
	n    int
}

// dialOBS connects and identifies, retrying while the server starts.
func dialOBS(port int) (*obsWS, error) {
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		ws, err := handshake(port)
		if err == nil {
			return ws, nil
		}
		last = err
	}
	return nil, last
}

func handshake(port int) (*obsWS, error) {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	k := base64.StdEncoding.EncodeToString(key)
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: obswebsocket.json\r\n\r\n", port, k)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	sum := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		conn.Close()
		return nil, fmt.Errorf("upgrade refused: %s", resp.Status)
	}
	ws := &obsWS{conn: conn, r: r}
	if _, err := ws.read(); err != nil { // Hello (op 0)
		conn.Close()
		return nil, err
	}
	if err := ws.write(`{"op": 1, "d": {"rpcVersion": 1}}`); err != nil { // Identify
		conn.Close()
		return nil, err
	}
	if msg, err := ws.read(); err != nil || !strings.Contains(msg, `"op":2`) { // Identified
		conn.Close()
		return nil, fmt.Errorf("not identified: %q %v", msg, err)
	}
	return ws, nil
}

// request sends one request and waits for its response (op 7).
func (ws *obsWS) request(kind, data string) error {
	ws.n++
	id := fmt.Sprint(ws.n)
	if err := ws.write(fmt.Sprintf(`{"op": 6, "d": {"requestType": %q, "requestId": %q, "requestData": %s}}`, kind, id, data)); err != nil {
		return err
	}
	for {
		msg, err := ws.read()
		if err != nil {
			return err
		}
		var m struct {
			Op int `json:"op"`
			D  struct {
				RequestID     string `json:"requestId"`
				RequestStatus struct {
					Result  bool   `json:"result"`
					Code    int    `json:"code"`
					Comment string `json:"comment"`
				} `json:"requestStatus"`
			} `json:"d"`
		}
		if json.Unmarshal([]byte(msg), &m) != nil || m.Op != 7 || m.D.RequestID != id {
			continue // an event
		}
		if !m.D.RequestStatus.Result {
			return fmt.Errorf("code %d: %s", m.D.RequestStatus.Code, m.D.RequestStatus.Comment)
		}
		return nil
	}
}

func (ws *obsWS) write(text string) error {
	p := []byte(text)
	hdr := []byte{0x81} // FIN, text
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		return fmt.Errorf("message of %d bytes", n)
	}
	mask := make([]byte, 4)
	rand.Read(mask)
	hdr = append(hdr, mask...)
	for i := range p {
		p[i] ^= mask[i%4]
	}
	ws.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := ws.conn.Write(append(hdr, p...))
	return err
}

func (ws *obsWS) read() (string, error) {
	ws.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(ws.r, h[:]); err != nil {
		return "", err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(ws.r, b[:]); err != nil {
			return "", err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(ws.r, b[:]); err != nil {
			return "", err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<24 {
		return "", fmt.Errorf("frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(ws.r, p); err != nil {
		return "", err
	}
	if h[0]&0x0f == 8 {
		return "", fmt.Errorf("closed by OBS: %q", p)
	}
	return string(p), nil
}

func (ws *obsWS) Close() error { return ws.conn.Close() }
