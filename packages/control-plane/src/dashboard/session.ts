/**
 * Who is signed in, for the API and for the dashboard: `GET /api/v1/dashboard/session` answers with the
 * caller's name, role and the actions the role may take (capabilities.ts), through the same bearer auth as
 * every other route. The dashboard asks it on every page to decide which buttons to show.
 */
import { z } from 'zod';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from '../api/app.js';
import { jsonResponse, route } from '../api/schemas.js';
import { capabilitiesOf, type Action } from './capabilities.js';

export interface SessionView {
  name: string;
  role: string;
  can: Action[];
}

const sessionRoute = route({
  method: 'get',
  path: '/dashboard/session',
  summary: "The caller's name, role and the dashboard actions the role may take",
  responses: {
    200: jsonResponse(
      'The session',
      z.object({ name: z.string(), role: z.string(), can: z.array(z.string()) }),
    ),
  },
});

export function sessionRoutes(api: OpenAPIHono<ApiEnv>): void {
  api.openapi(sessionRoute, (c) => {
    const { name, role } = c.get('principal');
    return c.json({ name, role, can: capabilitiesOf(role) }, 200);
  });
}
