package trace

// InferredMark starts the part of a note deduced from the calls. Everything
// before it restates what strace recorded; everything after it says what
// happened inside the runtime or the kernel, which strace cannot see.
const InferredMark = "inferred: "

// NotesLegend explains the notes' convention, for the head of an output.
const NotesLegend = `Notes restate what strace recorded (the call, its arguments and what they ask of the kernel, its result, its thread, its timing); ` +
	`the words after "inferred:" are deduced from the calls (what the runtime or the kernel did, which strace cannot see), ` +
	`and "(readiness journey MODEL observes it)" names the command that records that event with uprobes and tracepoints; ` +
	`thread roles and fd names (netpoll, conn#1) are inferred from the calls too`

// note explains one call in two parts, printed on one line as
// "seen; inferred: guess".
type note struct {
	seen  string // what strace recorded, restated
	guess string // what the runtime or the kernel did, deduced from the calls
	// journey reports that readiness journey records the guessed event
	// itself: a runtime function it probes (netpoll, netpollready, ready,
	// execute, stopm, futexsleep, futexwakeup) or a thread's wake-up in the
	// kernel (sched_waking).
	journey bool
}

// seen is a note that only restates the call.
func seen(s string) note { return note{seen: s} }

// inferred is a note with a deduced part; s may be empty when the call
// itself says nothing worth restating.
func inferred(s, guess string) note { return note{seen: s, guess: guess} }

// observedBy marks the note's deduction as one readiness journey observes.
func observedBy(nt note) note {
	nt.journey = true
	return nt
}

// text renders the note on one line, for the traced model.
func (nt note) text(model string) string {
	if nt.guess == "" {
		return nt.seen
	}
	s := InferredMark + nt.guess
	if nt.seen != "" {
		s = nt.seen + "; " + s
	}
	if nt.journey {
		s += " (readiness journey " + model + " observes it)"
	}
	return s
}
