import { cliMain } from './main';

cliMain();
