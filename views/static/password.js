// « Afficher les mots de passe »: a real button with aria-pressed that
// never submits the form. Without JavaScript it stays hidden.
(function () {
  var button = document.getElementById('afficher');
  if (!button) return;
  var fields = [document.getElementById('nouveau'), document.getElementById('confirmation')];
  button.hidden = false;
  button.addEventListener('click', function () {
    var show = button.getAttribute('aria-pressed') !== 'true';
    button.setAttribute('aria-pressed', show ? 'true' : 'false');
    fields.forEach(function (f) { if (f) f.type = show ? 'text' : 'password'; });
  });
})();
