// Package paramflag turns the parameter registry into command line flags and reads them
// back: one flag per parameter of params.All, with its default and doc, set through the
// parameter's own setter as a spec's [base] would. It is apart from params so that the
// registry does not depend on a command line library.
package paramflag

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/params"
)

// Flags are the parameters' flags, in registry order.
func Flags() []cli.Flag {
	flags := make([]cli.Flag, 0, len(params.All))
	// One default run for every flag's default: each command builds its flags when the
	// program starts, and a default run built per parameter was most of that.
	def := params.Default()
	for i := range params.All {
		p := &params.All[i]
		if p.Flag == "-" {
			continue
		}
		d := p.Get(&def)
		switch p.Kind {
		case params.KindString:
			flags = append(flags, &cli.StringFlag{Name: p.Flag, Value: d.Str, Usage: p.Doc})
		case params.KindInt:
			flags = append(flags, &cli.Int64Flag{Name: p.Flag, Value: d.Int, Usage: p.Doc})
		case params.KindDuration:
			flags = append(flags, &cli.DurationFlag{Name: p.Flag, Value: time.Duration(d.Int), Usage: p.Doc})
		case params.KindFloat:
			flags = append(flags, &cli.Float64Flag{Name: p.Flag, Value: d.Float, Usage: p.Doc})
		case params.KindBool:
			usage := p.Doc
			if p.Negated() {
				usage = "do not " + usage
			}
			flags = append(flags, &cli.BoolFlag{Name: p.Flag, Value: d.Bool != p.Negated(), Usage: usage})
		}
	}
	return flags
}

// Read starts from the parameters' defaults and sets those given on the command line. An
// error names the flag whose value the parameter refused.
func Read(c *cli.Context) (params.Run, error) {
	r := params.Default()
	for i := range params.All {
		p := &params.All[i]
		if p.Flag == "-" || !c.IsSet(p.Flag) {
			continue
		}
		v := params.Value{Kind: p.Kind}
		switch p.Kind {
		case params.KindString:
			v.Str = c.String(p.Flag)
		case params.KindInt:
			v.Int = c.Int64(p.Flag)
		case params.KindDuration:
			v.Int = int64(c.Duration(p.Flag))
		case params.KindFloat:
			v.Float = c.Float64(p.Flag)
		case params.KindBool:
			v.Bool = c.Bool(p.Flag) != p.Negated()
		}
		if err := p.Set(&r, v); err != nil {
			return r, fmt.Errorf("--%s: %w", p.Flag, err)
		}
	}
	return r, nil
}
