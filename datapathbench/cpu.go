package datapathbench

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), 100 on every
// Linux architecture Go runs on.
const clockTicks = 100

// ProcCPU returns a process's user+system CPU time (/proc/<pid>/stat).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(s string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no ')' in /proc/<pid>/stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad utime/stime in /proc/<pid>/stat")
	}
	return time.Duration(u+st) * time.Second / clockTicks, nil
}

// MachineCPU is the machine's CPU time counters (/proc/stat, all CPUs).
type MachineCPU struct{ Busy, Total time.Duration }

// ReadMachineCPU reads /proc/stat's cpu line.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return parseMachineStat(string(b))
}

func parseMachineStat(s string) (MachineCPU, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return MachineCPU{}, errors.New("no cpu line in /proc/stat")
	}
	var total, idle int64
	for i, v := range f[1:] {
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return MachineCPU{}, err
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return MachineCPU{Busy: time.Duration(total-idle) * time.Second / clockTicks, Total: time.Duration(total) * time.Second / clockTicks}, nil
}

// BusyPct is the share of CPU time busy between two readings, in percent
// of all CPUs.
func BusyPct(a, b MachineCPU) float64 {
	if b.Total <= a.Total {
		return 0
	}
	return 100 * float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
}
