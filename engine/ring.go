package engine

import "facelive/engine/frame"

// ring is a FIFO of buffers that grows only when it must, so a pipeline in
// steady state never allocates for its queues.
type ring struct {
	buf        []*frame.Buffer
	head, size int
}

func (r *ring) len() int { return r.size }

func (r *ring) push(b *frame.Buffer) {
	if r.size == len(r.buf) {
		grown := make([]*frame.Buffer, max(8, 2*len(r.buf)))
		for i := 0; i < r.size; i++ {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.size)%len(r.buf)] = b
	r.size++
}

func (r *ring) front() *frame.Buffer { return r.buf[r.head] }

func (r *ring) pop() *frame.Buffer {
	b := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return b
}

// insertOrdered keeps the ring sorted by Seq; the new buffer is nearly always
// the largest, so the scan from the back is short.
func (r *ring) insertOrdered(b *frame.Buffer) {
	r.push(b)
	for i := r.size - 1; i > 0; i-- {
		a, p := r.at(i-1), r.at(i)
		if r.buf[a].Seq <= r.buf[p].Seq {
			break
		}
		r.buf[a], r.buf[p] = r.buf[p], r.buf[a]
	}
}

func (r *ring) at(i int) int { return (r.head + i) % len(r.buf) }
