package experiment

import (
	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/autograd"
	"github.com/softcpt/softcpt-go/clip"
	"github.com/softcpt/softcpt-go/kernels"
)

// setPrecision sets the number format of m's frozen towers to the
// --precision value p ("" is fp32) on the --device value device, and returns the
// precision that runs: bf16 needs the CPU backend and AVX512-BF16 kernels;
// elsewhere the towers run in fp32, as a log line says. A request for bf16
// logs the precision that runs.
func setPrecision(p string, m *clip.Model, device string) (autograd.Precision, error) {
	pr := autograd.FP32
	if p != "" {
		var err error
		if pr, err = autograd.ParsePrecision(p); err != nil {
			return pr, errors.Wrap(err, "--precision")
		}
	}
	if pr == autograd.BF16 {
		gpu, _, err := ParseDevice(device)
		if err != nil {
			return pr, err
		}
		switch {
		case gpu:
			Logf("precision: --precision bf16 applies to the CPU; the towers on --device %s run in fp32", device)
			pr = autograd.FP32
		case !kernels.BF16Supported():
			Logf("precision: this CPU (or build) has no AVX512-BF16 kernels; the frozen towers run in fp32, not bf16")
			pr = autograd.FP32
		default:
			Logf("precision: frozen towers in bf16 (AVX512-BF16 products, fp32 sums); learned parameters, optimiser and loss in fp32")
		}
	}
	m.SetPrecision(pr)
	return pr, nil
}

// precisionName is the model's precision as a RunConfig records it: ""
// for fp32 (so the folders of fp32 runs keep their names), else its name.
func precisionName(m *clip.Model) string {
	if m == nil || m.Precision() == autograd.FP32 {
		return ""
	}
	return m.Precision().String()
}

// samePrecision checks that a saved run (nil: none) was trained at the
// precision of the run asked for: a checkpoint is resumed or evaluated
// with the frozen towers it was trained with (what names its folder).
func samePrecision(saved *RunConfig, want RunConfig, what string) error {
	if saved == nil || saved.Precision == want.Precision {
		return nil
	}
	name := func(p string) string {
		if p == "" {
			return "fp32"
		}
		return p
	}
	return errors.Errorf("%s: the trained run %s was trained with --precision %s, not %s; give --precision %s",
		what, saved.Name(), name(saved.Precision), name(want.Precision), name(saved.Precision))
}
