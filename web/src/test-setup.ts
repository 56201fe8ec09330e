import '@testing-library/jest-dom/vitest';
import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/react';

// Testing Library unmounts after each test by itself only with Vitest globals on; they are off here.
afterEach(cleanup);
