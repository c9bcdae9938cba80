// Package softcpt implements SoftCPT (multi-task few-shot prompt tuning
// with soft context sharing, Ding et al., arXiv 2208.13474) and its
// baselines on a frozen CLIP: CoOp prompt learners, the hard-sharing
// CoOp-MT/CA/CS, the task and class prompt learners, the meta networks
// (lin, linmean, lincls), zero-shot CLIP and the linear probe, with the
// multi-task trainer and evaluation.
package softcpt

import (
	"fmt"
	"strings"

	"github.com/softcpt/softcpt-go/internal/setting"
)

// Sharing says how CoOp's hard-sharing baselines share contexts.
type Sharing int

const (
	// ShareAll is CoOp-MT: one context for every class of every task.
	ShareAll Sharing = iota
	// SharePerTask is CoOp-CA: one context per task (CoOp per task).
	SharePerTask
	// SharePerClass is CoOp-CS: one context per class.
	SharePerClass
)

// Config holds every knob of the authors' scripts (main_mtcoop.sh,
// main_mtcoop_hard.sh, main_mtcoop_cls_sample.sh) plus CoOp's.
type Config struct {
	// Name is the method's display name (e.g. "SoftCPT-NATA").
	Name string
	// Hard selects a CoOp hard-sharing baseline instead of SoftCPT.
	Hard bool
	// Sharing is the baseline's context sharing (Hard only).
	Sharing Sharing

	NCtx        int      // N_CTX: context length of the class prompts (16)
	CtxInit     string   // CTX_INIT: start the class-prompt contexts from these words, or from each task's template (CtxInitTemplate); "" = N(0, 0.02)
	Position    Position // CLASS_TOKEN_POSITION
	CSC         bool     // SoftCPT: use class features (CA/CS) as meta-net input
	ClassNCtx   int      // CLASS_N_CTX (4)
	ClassCSC    bool     // CLASS_CSC: class-specific class context (CS) instead of shared (CA)
	TaskNCtx    int      // TASK_N_CTX (4)
	TaskCSC     bool     // TASK_CSC: task-specific task context (TS) instead of shared (TA)
	TaskCtxInit string   // TASK_CTX_INIT: start the task context(s) from these words (SoftCPT only; see NewLearner); "" = N(0, 0.02)
	PGType      string   // PG_TYPE: lin, linmean or lincls
	ClassSample float64  // CLS_SAMPLE_RATE: class sampling rate in training (0 = off)
	InitStd     float32  // std of the random context and meta-net init (0.02)
}

// Methods lists the named methods the driver accepts.
func Methods() []string {
	return []string{"coop-mt", "coop-ca", "coop-cs", "nata", "nats", "cata", "csta", "cats", "csts"}
}

// MethodConfig returns the configuration of a named method with the
// authors' README settings (N_CTX 16, task and class contexts of 4,
// meta network "lin"). Names are case-insensitive, with or without a
// "softcpt-" prefix.
func MethodConfig(name string) (Config, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.ToLower(name), "softcpt-"))
	c := Config{NCtx: 16, TaskNCtx: 4, ClassNCtx: 4, PGType: "lin", InitStd: 0.02}
	switch n {
	case "coop-mt", "coop":
		c.Name, c.Hard, c.Sharing = "CoOp-MT", true, ShareAll
		if n == "coop" {
			c.Name, c.Sharing = "CoOp", SharePerTask
		}
	case "coop-ca":
		c.Name, c.Hard, c.Sharing = "CoOp-CA", true, SharePerTask
	case "coop-cs":
		c.Name, c.Hard, c.Sharing = "CoOp-CS", true, SharePerClass
	case "nata", "nats", "cata", "csta", "cats", "csts":
		c.Name = "SoftCPT-" + strings.ToUpper(n)
		c.CSC = n[:2] != "na"
		c.ClassCSC = n[:2] == "cs"
		c.TaskCSC = n[2:] == "ts"
		if !c.CSC {
			c.ClassNCtx = 0
		}
	default:
		return c, setting.Errorf("Method", name, "unknown method, want one of %s", strings.Join(Methods(), ", "))
	}
	return c, nil
}

// Validate checks that the knobs are consistent, as the authors' code
// asserts. Errors are *setting.Error values named "Config.FIELD".
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		n    int
	}{{"Config.NCtx", c.NCtx}, {"Config.TaskNCtx", c.TaskNCtx}, {"Config.ClassNCtx", c.ClassNCtx}} {
		if f.n < 0 {
			return setting.Errorf(f.name, f.n, "must be a context length >= 0")
		}
	}
	if c.Position < End || c.Position > Front {
		return setting.Errorf("Config.Position", int(c.Position), "must be end, middle or front")
	}
	if c.Hard {
		if c.TaskCtxInit != "" {
			return setting.Errorf("Config.TaskCtxInit", c.TaskCtxInit, "needs a SoftCPT method: the CoOp baselines have no task context")
		}
		return nil
	}
	if c.TaskCtxInit != "" && c.TaskNCtx == 0 {
		return setting.Errorf("Config.TaskCtxInit", c.TaskCtxInit, "needs a task context (TaskNCtx > 0)")
	}
	switch c.PGType {
	case "lin":
	case "linmean", "lincls":
		if !c.CSC {
			return setting.Errorf("Config.PGType", c.PGType, "needs class features (CSC true)")
		}
	default:
		return setting.Errorf("Config.PGType", c.PGType, "must be lin, linmean or lincls")
	}
	if !(c.ClassSample >= 0 && c.ClassSample <= 1) {
		return setting.Errorf("Config.ClassSample", c.ClassSample, "must be a class sampling rate in [0, 1]")
	}
	if c.ClassSample > 0 && !c.CSC {
		return setting.Errorf("Config.ClassSample", c.ClassSample, "needs class features (CSC true), as in the authors' code")
	}
	return nil
}

// String summarises the configuration.
func (c Config) String() string {
	if c.Hard {
		return fmt.Sprintf("%s(n_ctx=%d)", c.Name, c.NCtx)
	}
	return fmt.Sprintf("%s(n_ctx=%d csc=%v class_n_ctx=%d class_csc=%v task_n_ctx=%d task_csc=%v pg=%s sample=%g)",
		c.Name, c.NCtx, c.CSC, c.ClassNCtx, c.ClassCSC, c.TaskNCtx, c.TaskCSC, c.PGType, c.ClassSample)
}

// MethodSettings are the knobs of a method's configuration as the driver's
// flags and a sweep's keys spell them (the JSON keys are the flags of
// 'softcpt train' with "_" for "-"). Config.Settings returns a
// configuration's; MethodSettings.Config resolves them.
type MethodSettings struct {
	NCtx        int     `json:"n_ctx"`
	CtxInit     string  `json:"ctx_init"`
	Position    string  `json:"class_token_position"`
	CSC         bool    `json:"csc"`
	ClassNCtx   int     `json:"class_n_ctx"`
	ClassCSC    bool    `json:"class_csc"`
	TaskNCtx    int     `json:"task_n_ctx"`
	TaskCSC     bool    `json:"task_csc"`
	TaskCtxInit string  `json:"task_ctx_init,omitempty"`
	PGType      string  `json:"pg_type"`
	ClassSample float64 `json:"cls_sample_rate"`
}

// Settings returns the configuration's knobs.
func (c Config) Settings() MethodSettings {
	return MethodSettings{NCtx: c.NCtx, CtxInit: c.CtxInit, Position: c.Position.String(), CSC: c.CSC, ClassNCtx: c.ClassNCtx,
		ClassCSC: c.ClassCSC, TaskNCtx: c.TaskNCtx, TaskCSC: c.TaskCSC, TaskCtxInit: c.TaskCtxInit, PGType: c.PGType, ClassSample: c.ClassSample}
}

// Config returns the configuration of the named method (MethodConfig)
// with the knobs s, checked by Config.Validate. Errors are the
// *setting.Error values of MethodConfig ("Method"), ParsePosition and
// Validate ("Config.FIELD").
func (s MethodSettings) Config(method string) (Config, error) {
	c, err := MethodConfig(method)
	if err != nil {
		return c, err
	}
	c.NCtx, c.CtxInit, c.CSC, c.ClassNCtx, c.ClassCSC = s.NCtx, s.CtxInit, s.CSC, s.ClassNCtx, s.ClassCSC
	c.TaskNCtx, c.TaskCSC, c.TaskCtxInit, c.PGType, c.ClassSample = s.TaskNCtx, s.TaskCSC, s.TaskCtxInit, s.PGType, s.ClassSample
	if c.Position, err = ParsePosition(s.Position); err != nil {
		return c, err
	}
	return c, c.Validate()
}
