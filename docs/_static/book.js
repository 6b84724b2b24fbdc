// Remember the edition a reader switches to, so the site's front page opens it next time.
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[data-edition]");
  if (!link) return;
  try {
    window.localStorage.setItem("attention-book-edition", link.dataset.edition);
  } catch (error) {
    // storage may be unavailable (private mode, some file:// setups): the link still works
  }
});
