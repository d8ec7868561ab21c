package reset

import (
	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// ProblemFor is what the new-password page says of a change the
// directory's policy refused for reason r: the one mapping from the job
// queue's reasons to what the person reads. A reason without a rule of
// its own (policy, or one this tier does not know yet) reads as a plain
// refusal.
func ProblemFor(r job.Reason) views.PasswordProblem {
	switch r {
	case job.ReasonTooShort:
		return views.PasswordTooShort
	case job.ReasonTooLong:
		return views.PasswordTooLong
	case job.ReasonInHistory:
		return views.PasswordInHistory
	case job.ReasonTooYoung:
		return views.PasswordTooYoung
	case job.ReasonQuality:
		return views.PasswordQuality
	}
	return views.PasswordRefused
}
