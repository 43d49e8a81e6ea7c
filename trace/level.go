package trace

import "fmt"

// Tables of a result set, each in its own folder of part files that share their names
// across tables.
const (
	TableRuns   = "runs"
	TableJoins  = "joins"
	TableEvents = "events"
	// TableOps holds DHT operations. Level.Tables does not list it: a part has an ops file
	// only when its runs had a workload (PartInfo.Ops > 0), whatever the level.
	TableOps = "ops"
)

// RunsSchemaName is the schema name of runs files. The runs layout itself is declared by
// the runner, whose parameters are its columns; readers that only need to recognise a runs
// file use this name.
const RunsSchemaName = "dhtexp.runs"

// Level is a result set's trace level: which tables a sweep writes.
type Level uint8

// Trace levels, each writing the tables of the ones before it and more.
const (
	LevelNone     Level = iota + 1 // runs only
	LevelJoins                     // runs, joins and DHT operations
	LevelMessages                  // runs, joins, operations and events
)

var levelNames = [...]string{LevelNone: "none", LevelJoins: "joins", LevelMessages: "messages"}

func (l Level) String() string {
	if l >= LevelNone && l <= LevelMessages {
		return levelNames[l]
	}
	return "unset"
}

// ParseLevel is the inverse of Level.String.
func ParseLevel(s string) (Level, error) {
	for l := LevelNone; l <= LevelMessages; l++ {
		if levelNames[l] == s {
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown trace level %q (known: none, joins, messages)", s)
}

// Tables lists the tables every part of a result set at level l has, runs first.
func (l Level) Tables() []string {
	switch l {
	case LevelJoins:
		return []string{TableRuns, TableJoins}
	case LevelMessages:
		return []string{TableRuns, TableJoins, TableEvents}
	}
	return []string{TableRuns}
}

// PartTables lists the tables that hold a file of the committed part p at level l.
func (l Level) PartTables(p *PartInfo) []string {
	ts := l.Tables()
	if p.Ops > 0 {
		ts = append(ts, TableOps)
	}
	return ts
}
