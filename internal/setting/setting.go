// Package setting reports invalid settings (options of the library,
// flags of the driver) in one shape: the setting's name, its value and
// the accepted range, so that a driver can name its own flag instead of
// the library's field (see Error.Rename).
package setting

import (
	"fmt"
	"math"

	"github.com/pkg/errors"
)

// Error is an invalid setting. Name is the library's name of the
// setting, "Type.Field" (e.g. "TrainOptions.Epochs"); Value its value and
// Want the accepted range or rule, a phrase that follows the value
// ("must be at least 1").
type Error struct {
	Name  string
	Value any
	Want  string
}

// Error returns "NAME VALUE: WANT".
func (e *Error) Error() string {
	v := fmt.Sprint(e.Value)
	if s, ok := e.Value.(string); ok {
		v = fmt.Sprintf("%q", s)
	}
	return e.Name + " " + v + ": " + e.Want
}

// Errorf returns an *Error for the setting name with value v.
func Errorf(name string, v any, format string, a ...any) error {
	return errors.WithStack(&Error{Name: name, Value: v, Want: fmt.Sprintf(format, a...)})
}

// Rename returns err with the name of its setting replaced by
// names[Name] when err is (or wraps) an *Error whose name is in names;
// otherwise err unchanged. Only the setting error's message changes: the
// text of the wrapping errors is kept.
func Rename(err error, names map[string]string) error {
	var se *Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	if n, ok := names[se.Name]; ok {
		se.Name = n
	}
	return err
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// AtLeast checks an integer setting's lower bound.
func AtLeast(name string, v, lo int, what string) error {
	if v < lo {
		return Errorf(name, v, "must be at least %d (%s)", lo, what)
	}
	return nil
}

// Positive checks that a real setting is finite and > 0.
func Positive(name string, v float64, what string) error {
	if !(v > 0) || !Finite(v) {
		return Errorf(name, v, "must be a positive finite number (%s)", what)
	}
	return nil
}

// NonNegative checks that a real setting is finite and >= 0.
func NonNegative(name string, v float64, what string) error {
	if !(v >= 0) || !Finite(v) {
		return Errorf(name, v, "must be a finite number >= 0 (%s)", what)
	}
	return nil
}

// First returns the first non-nil error.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
