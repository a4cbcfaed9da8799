//go:build !linux

package bench

// sampleCPU is Linux only (/proc/stat); elsewhere reports carry no CPU usage.
func sampleCPU() *cpuSample { return nil }
