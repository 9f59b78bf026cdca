package simulate

import "sync"

// Striped runs do(w, i) for every i in [0, n) on workers goroutines, worker
// w taking every workers-th index starting at w, and waits for all of them.
// Callers rely on the fixed assignment: each index is handled by exactly one
// worker, so per-index state needs no lock.
func Striped(workers, n int, do func(w, i int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				do(w, i)
			}
		}()
	}
	wg.Wait()
}
