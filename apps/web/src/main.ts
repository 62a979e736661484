// The web app's entry: filled in by the pages (Digits, Train, Regression playground).
export {};
