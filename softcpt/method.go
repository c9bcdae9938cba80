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

	"github.com/pkg/errors"
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
		return c, errors.Errorf("unknown method %q (want one of %s)", name, strings.Join(Methods(), ", "))
	}
	return c, nil
}

// Validate checks that the knobs are consistent, as the authors' code
// asserts.
func (c Config) Validate() error {
	if c.NCtx < 0 || c.TaskNCtx < 0 || c.ClassNCtx < 0 {
		return errors.New("context lengths must not be negative")
	}
	if c.Hard {
		return nil
	}
	switch c.PGType {
	case "lin":
	case "linmean", "lincls":
		if !c.CSC {
			return errors.Errorf("meta network %q needs class features (CSC)", c.PGType)
		}
	default:
		return errors.Errorf("unknown meta network %q (want lin, linmean or lincls)", c.PGType)
	}
	if c.ClassSample > 0 && !c.CSC {
		return errors.New("class sampling needs class features (CSC), as in the authors' code")
	}
	if c.ClassSample < 0 || c.ClassSample > 1 {
		return errors.Errorf("class sampling rate %g outside [0, 1]", c.ClassSample)
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
