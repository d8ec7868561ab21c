package reset

import (
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/shared/job"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

func TestProblemFor(t *testing.T) {
	for _, tc := range []struct {
		reason job.Reason
		want   views.PasswordProblem
	}{
		{job.ReasonTooShort, views.PasswordTooShort},
		{job.ReasonTooLong, views.PasswordTooLong},
		{job.ReasonInHistory, views.PasswordInHistory},
		{job.ReasonTooYoung, views.PasswordTooYoung},
		{job.ReasonQuality, views.PasswordQuality},
		{job.ReasonPolicy, views.PasswordRefused},
		{job.ReasonNone, views.PasswordRefused},
		{job.Reason("from_a_newer_worker"), views.PasswordRefused},
	} {
		t.Run(string(tc.reason), func(t *testing.T) {
			p := ProblemFor(tc.reason)
			if p != tc.want {
				t.Fatalf("ProblemFor(%q) = %v, want %v", tc.reason, p, tc.want)
			}
			// The problem travels to the page in the URL: it must come
			// back as itself, not as another or as no problem at all.
			if back := problemFromCode(problemCode(p)); back != p {
				t.Fatalf("ProblemFor(%q) = %v comes back from the URL as %v", tc.reason, p, back)
			}
		})
	}
}
