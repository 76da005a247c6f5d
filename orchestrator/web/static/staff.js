// GOV.UK Frontend's behaviour on staff pages: the error summary takes focus on load and its
// links move focus to the field; radios and checkboxes reveal what they control.
// Every page works without it. govuk-frontend.min.js is copied here by scripts/build-assets.sh.
import { initAll } from "./govuk-frontend.min.js";

initAll();
