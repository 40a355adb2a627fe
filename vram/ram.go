package vram

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RAMSource reports system memory; the real one reads /proc/meminfo
// (MemTotal, MemAvailable).
type RAMSource interface {
	RAM() (totalMB, availableMB uint64, err error)
}

// SystemRAM reads /proc/meminfo. Inside a container whose cgroup v2 sets a
// memory limit it reports the smaller of the machine and the cgroup, because
// the kernel kills us at the cgroup limit, not at MemTotal.
func SystemRAM() RAMSource {
	return procRAM{
		meminfo:    "/proc/meminfo",
		cgroupMax:  "/sys/fs/cgroup/memory.max",
		cgroupUsed: "/sys/fs/cgroup/memory.current",
	}
}

type procRAM struct{ meminfo, cgroupMax, cgroupUsed string }

func (p procRAM) RAM() (totalMB, availableMB uint64, err error) {
	data, err := os.ReadFile(p.meminfo)
	if err != nil {
		return 0, 0, fmt.Errorf("reading system memory: %w", err)
	}
	fields := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "MemAvailable:    8123456 kB"
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
			fields[name] = v // kB
		}
	}
	total, ok := fields["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("reading system memory: no MemTotal in %s", p.meminfo)
	}
	avail, ok := fields["MemAvailable"]
	if !ok { // kernels before 3.14 lack MemAvailable; this is their usual estimate
		avail = fields["MemFree"] + fields["Buffers"] + fields["Cached"]
	}
	totalMB, availableMB = total>>10, avail>>10

	if limit, ok := readUint(p.cgroupMax); ok && limit>>20 < totalMB {
		used, _ := readUint(p.cgroupUsed)
		totalMB = limit >> 20
		left := uint64(0)
		if used < limit {
			left = (limit - used) >> 20
		}
		availableMB = min(availableMB, left)
	}
	return totalMB, availableMB, nil
}

// readUint reads a file holding one number; "max" (no limit), a missing file
// or garbage all report !ok.
func readUint(path string) (uint64, bool) {
	if path == "" {
		return 0, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}
