// The waiting screen follows the change by itself: it asks for the status
// and goes on when the change is settled. The « Vérifier » button does the
// same without JavaScript (no meta refresh).
(function () {
  var region = document.getElementById('etat');
  if (!region || !window.fetch) return;
  var url = region.getAttribute('data-status-url');
  function poll() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.next) { window.location.assign(s.next); return; }
        var slow = document.getElementById('etat-lent');
        var current = document.getElementById('etat-actuel');
        if (s.slow) {
          document.getElementById('etat-normal').hidden = true;
          slow.hidden = false;
        }
        // Only when it changes, so the live region speaks only then.
        if (s.slow_text && slow.textContent !== s.slow_text) slow.textContent = s.slow_text;
        if (s.current_text && current.textContent !== s.current_text) current.textContent = s.current_text;
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
