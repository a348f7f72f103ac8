/* Moving between the form and a job's view without reloading: the address changes, the page follows. */

let router = function () {};

/** What to do when the address changes (app.js's route). */
export function setRouter(route) {
  router = route;
}

export function navigate(url) {
  history.pushState(null, '', url);
  router();
}
