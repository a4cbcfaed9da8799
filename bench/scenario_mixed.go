package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

func init() {
	register("mixed", "weighted mix of other scenarios (--mix client-credentials=3,refresh=1)",
		func() Scenario { return &mixed{} })
}

// MixPart is one entry of a --mix specification.
type MixPart struct {
	Name   string
	Weight float64
}

// ParseMix parses "name=weight,name=weight" (a bare name has weight 1). Names must be
// registered scenarios other than mixed; weights positive; every problem is reported.
func ParseMix(spec string) ([]MixPart, error) {
	var parts []MixPart
	var errs []error
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, w, hasW := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		weight := 1.0
		if hasW {
			f, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
			if err != nil || !(f > 0) || f > 1e6 {
				errs = append(errs, fmt.Errorf("--mix %q: weight must be a positive number", item))
				continue
			}
			weight = f
		}
		switch {
		case name == "mixed":
			errs = append(errs, errors.New("--mix: mixed cannot contain itself"))
			continue
		case seen[name]:
			errs = append(errs, fmt.Errorf("--mix: %s listed twice", name))
			continue
		}
		if _, ok := registry[name]; !ok {
			errs = append(errs, fmt.Errorf("--mix: unknown scenario %q (known: %v)", name, ScenarioNames()))
			continue
		}
		seen[name] = true
		parts = append(parts, MixPart{Name: name, Weight: weight})
	}
	if len(parts) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("--mix is empty; e.g. --mix client-credentials=3,refresh=1"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return parts, nil
}

// mixed runs other scenarios, each request picking one at random by weight. Each part is
// set up once; the report breaks latency and errors down per part.
type mixed struct {
	parts  []MixPart
	scen   []Scenario
	cum    []float64 // cumulative weights, normalised to end at 1
	params map[string]string
}

var (
	_ WorkerScenario = (*mixed)(nil)
	_ OpScenario     = (*mixed)(nil)
	_ Teardowner     = (*mixed)(nil)
)

func (m *mixed) Setup(ctx context.Context, env *Env) error {
	parts, err := ParseMix(env.Mix)
	if err != nil {
		return err
	}
	m.parts = parts
	m.params = map[string]string{"mix": env.Mix}
	var total float64
	for _, p := range parts {
		total += p.Weight
	}
	var acc float64
	for _, p := range parts {
		sc, err := NewScenario(p.Name)
		if err != nil {
			return errors.Join(err, m.Teardown(ctx))
		}
		if err := sc.Setup(ctx, env); err != nil {
			return errors.Join(fmt.Errorf("mixed: %s: %w", p.Name, err), m.Teardown(ctx))
		}
		m.scen = append(m.scen, sc)
		acc += p.Weight / total
		m.cum = append(m.cum, acc)
		if d, ok := sc.(Describer); ok {
			for k, v := range d.Params() {
				m.params[p.Name+"."+k] = v
			}
		}
	}
	m.cum[len(m.cum)-1] = 1
	return nil
}

func (m *mixed) Ops() []string {
	names := make([]string, len(m.parts))
	for i, p := range m.parts {
		names[i] = p.Name
	}
	return names
}

func (m *mixed) Params() map[string]string { return m.params }

// Do is only used when a caller ignores NewWorker; it shares one random source per call.
func (m *mixed) Do(ctx context.Context) error {
	return m.scen[m.pick(rand.Float64())].Do(ctx)
}

func (m *mixed) pick(u float64) int {
	for i, c := range m.cum {
		if u < c {
			return i
		}
	}
	return len(m.cum) - 1
}

func (m *mixed) NewWorker(id int) (Worker, error) {
	w := &mixedWorker{m: m, rng: rand.New(rand.NewPCG(uint64(id)+1, 0x6c61746368))}
	for _, sc := range m.scen {
		sw, err := newWorker(sc, id)
		if err != nil {
			return nil, err
		}
		w.workers = append(w.workers, sw)
	}
	return w, nil
}

type mixedWorker struct {
	m       *mixed
	rng     *rand.Rand
	workers []Worker
}

var _ OpWorker = (*mixedWorker)(nil)

func (w *mixedWorker) DoOp(ctx context.Context) (int, error) {
	i := w.m.pick(w.rng.Float64())
	return i, w.workers[i].Do(ctx)
}

func (w *mixedWorker) Do(ctx context.Context) error {
	_, err := w.DoOp(ctx)
	return err
}

func (m *mixed) Teardown(ctx context.Context) error {
	var errs []error
	for _, sc := range m.scen {
		if td, ok := sc.(Teardowner); ok {
			errs = append(errs, td.Teardown(ctx))
		}
	}
	m.scen = nil
	return errors.Join(errs...)
}
