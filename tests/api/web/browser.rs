//! The pages in a real browser: see the module once Chromium runs them.
