// A runTask() task file: its default export gets the input and returns the result (both are
// copied between threads by structured clone). Deliberately slow: naive recursive Fibonacci.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default function task(n) {
  return fib(n);
}
