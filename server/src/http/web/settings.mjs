/*
 * The page's settings: the words in the reader's language, and what the server says in
 * GET /config when the page starts: how to follow a job, the upload limits and accepted types,
 * and the steps a job goes through. The page keeps no copy of the server's facts; until the
 * answer arrives (or when it cannot be had) the server alone checks an upload.
 */
import { pickLanguage, translator } from './messages.mjs';

export const t = translator(pickLanguage(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]));

/** GET /config: `watch` (and `firebase` in the cloud), `upload` and `steps`, once loaded. */
export const server = {
  watch: null,
  firebase: null,
  /** {image: {maxBytes, types, extensions, …}, audio: {…}, nameMaxChars, bioMaxChars} */
  upload: null,
  /** The step names in order. */
  steps: [],
  /** The server's English label of each step, for a step this page has no words for. */
  stepLabels: {},
};

let configSettled;
/** Resolves once GET /config has answered or failed: the form's checks wait for it. */
export const configRead = new Promise(function (resolve) {
  configSettled = resolve;
});
/** Says that GET /config has answered or failed. */
export function configDone() {
  configSettled();
}

/** Takes in the answer of GET /config. */
export function applyConfig(config) {
  server.watch = config.watch || null;
  server.firebase = config.firebase || null;
  if (config.upload) server.upload = config.upload;
  if (Array.isArray(config.steps)) {
    server.steps = config.steps.map(function (step) {
      return step.name;
    });
    config.steps.forEach(function (step) {
      server.stepLabels[step.name] = step.label;
    });
  }
}

/** A step in the reader's language (messages.mjs, keyed by step name), else the server's label. */
export const stepLabel = function (step) {
  const key = 'step.' + step;
  const text = t(key);
  return text === key ? server.stepLabels[step] || step : text;
};
export const TERMINAL = ['completed', 'failed', 'cancelled'];
