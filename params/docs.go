package params

import (
	"fmt"
	"strings"
)

// Markdown is the parameter table of docs/results.md: one row per parameter, in column
// order. A test keeps the file's copy equal to it.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| parameter | runs column | type | default | `dhtexp run` flag | meaning |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for i := range All {
		p := &All[i]
		typ := p.Kind.typeName()
		if p.Unit != "" {
			typ += " (" + p.Unit + ")"
		}
		if p.Nullable {
			typ += ", null when empty"
		}
		def := p.Default().String()
		if p.Kind == KindString {
			def = fmt.Sprintf("%q", def)
		}
		flag := "–"
		if p.Flag != "-" {
			flag = "`--" + p.Flag + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | %s | %s |\n", p.Name, p.Column, typ, def, flag,
			strings.ReplaceAll(p.Doc, "|", `\|`))
	}
	return b.String()
}
