export function App() {
  return (
    <main>
      <h1>HE-PEx Studio</h1>
    </main>
  );
}
