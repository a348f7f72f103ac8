'use strict';
// Stops the shared Google Firestore emulator: see googleFirestoreEmulatorSetup.js.
module.exports = require('./googleFirestoreEmulatorSetup').teardown;
