import { defineConfig } from 'vitest/config';

// The browser scenario against a real `aegis serve` and PostgreSQL (see e2e/README in web/README.md).
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
