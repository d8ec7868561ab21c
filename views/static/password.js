// « Afficher les mots de passe » / « Masquer les mots de passe »: a real
// button that never submits the form. Its name says what it will do, so
// it carries no aria-pressed (a toggle's name must not change with its
// state); a polite status says what the fields now show. Without
// JavaScript the button's paragraph stays hidden.
(function () {
  var button = document.getElementById('afficher');
  var zone = document.getElementById('afficher-zone');
  var status = document.getElementById('afficher-etat');
  if (!button || !zone) return;
  var fields = [document.getElementById('nouveau'), document.getElementById('confirmation')];
  var shown = false;
  zone.hidden = false;
  button.addEventListener('click', function () {
    shown = !shown;
    fields.forEach(function (f) { if (f) f.type = shown ? 'text' : 'password'; });
    button.textContent = shown ? button.dataset.labelShown : button.dataset.labelHidden;
    if (status) status.textContent = shown ? status.dataset.textShown : status.dataset.textHidden;
  });
})();
