package replay

import (
	"bytes"

	"github.com/dhtexp/dhtexp/sim"
)

// Diagram reruns cfg and draws its sequence diagram (WriteSVG) with at most maxRows rows
// (0: WriteSVG's default), titled with the command line that replays the run.
func Diagram(cfg sim.Config, maxRows int) ([]byte, error) {
	var rec Recorder
	if _, err := sim.Run(cfg, &rec); err != nil {
		return nil, err
	}
	var svg bytes.Buffer
	if err := WriteSVG(&svg, rec.Events, DiagramOptions{Title: CommandLine(cfg), MaxRows: maxRows}); err != nil {
		return nil, err
	}
	return svg.Bytes(), nil
}
