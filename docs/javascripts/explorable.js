// Explorable figures (makemore_lib/plots.show_explorable, rendered by makemore_lib/book/pages.py):
// a <figure class="makemore-explorable"> holds the book's frame as an <img>, a range input over
// the frames and an <output> with the current frame's label. The frames are files of this site,
// listed in data-frames (addresses relative to the page) with their labels in data-labels.
// Moving the slider shows another frame; the first focus or hover of the slider preloads them all.
// Material's instant navigation swaps pages without reloading scripts: wire each page as it comes.
document$.subscribe(() => {
  document.querySelectorAll("figure.makemore-explorable").forEach(wireExplorable);
});

function wireExplorable(figure) {
  if (figure.dataset.wired) return;
  figure.dataset.wired = "yes";
  const frames = JSON.parse(figure.dataset.frames);
  const labels = JSON.parse(figure.dataset.labels);
  const img = figure.querySelector("img");
  const range = figure.querySelector("input[type=range]");
  const output = figure.querySelector("output");

  let preloaded = false;
  const preload = () => {
    if (preloaded) return;
    preloaded = true;
    frames.forEach((src) => { new Image().src = src; });
  };
  range.addEventListener("focus", preload);
  range.addEventListener("pointerenter", preload);

  const show = () => {
    const k = Number(range.value);
    img.src = frames[k];
    output.textContent = labels[k];
    range.setAttribute("aria-valuetext", labels[k]);
  };
  range.addEventListener("input", show);
}
