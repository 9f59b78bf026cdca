// Command fakemps stands in for nvidia-cuda-mps-control in tests. It keeps
// its state in $CUDA_MPS_PIPE_DIRECTORY: "running" while the daemon is up,
// "commands.log" with every invocation ("-d") and every command read from
// stdin, "fail-starts" holding how many starts are still to fail.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	dir := os.Getenv("CUDA_MPS_PIPE_DIRECTORY")
	if dir == "" || os.Getenv("CUDA_MPS_LOG_DIRECTORY") == "" {
		fmt.Println("CUDA_MPS_PIPE_DIRECTORY and CUDA_MPS_LOG_DIRECTORY must be set")
		os.Exit(2)
	}
	running := filepath.Join(dir, "running")
	record := func(s string) {
		f, err := os.OpenFile(filepath.Join(dir, "commands.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		fmt.Fprintln(f, s)
	}
	if len(os.Args) > 1 {
		if os.Args[1] != "-d" {
			fmt.Println("unknown option", os.Args[1])
			os.Exit(2)
		}
		record("-d")
		if n, err := os.ReadFile(filepath.Join(dir, "fail-starts")); err == nil {
			if left, _ := strconv.Atoi(strings.TrimSpace(string(n))); left > 0 {
				_ = os.WriteFile(filepath.Join(dir, "fail-starts"), []byte(strconv.Itoa(left-1)), 0o644)
				fmt.Println("failed to start (injected)")
				os.Exit(1)
			}
		}
		if _, err := os.Stat(running); err == nil {
			fmt.Println("An instance of this daemon is already running")
			os.Exit(1)
		}
		if err := os.WriteFile(running, []byte("100.0"), 0o644); err != nil {
			panic(err)
		}
		return
	}
	threads, err := os.ReadFile(running)
	if err != nil {
		fmt.Println("Cannot find MPS control daemon process")
		os.Exit(1)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		record(line)
		f := strings.Fields(line)
		switch f[0] {
		case "get_default_active_thread_percentage":
			fmt.Println(string(threads))
		case "set_default_active_thread_percentage":
			if len(f) != 2 {
				os.Exit(1)
			}
			_ = os.WriteFile(running, []byte(f[1]+".0"), 0o644)
		case "set_default_device_pinned_mem_limit":
			if len(f) != 3 || !strings.HasSuffix(f[2], "M") {
				fmt.Println("bad arguments")
				os.Exit(1)
			}
		case "quit":
			_ = os.Remove(running)
		default:
			fmt.Println("unknown command", f[0])
			os.Exit(1)
		}
	}
}
