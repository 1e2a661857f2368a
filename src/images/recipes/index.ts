// The recipes, most specific first: an OS layout beats the generic El Torito fallbacks.
import { archRecipe } from './arch.js';
import { casperRecipe } from './casper.js';
import { debianLiveRecipe } from './debian-live.js';
import { debianInstallerRecipe } from './debian-installer.js';
import { memdiskRecipe, noRecipe, sanbootRecipe } from './generic.js';
import { redhatRecipe } from './redhat.js';
import type { Recipe, RecipeEnv, RecipePlan } from './types.js';
import { winpeRecipe } from './winpe.js';
import type { ImageTree } from '../tree.js';

export const RECIPES: Recipe[] = [winpeRecipe, casperRecipe, debianLiveRecipe, debianInstallerRecipe, redhatRecipe, archRecipe, memdiskRecipe, sanbootRecipe, noRecipe];

/** The first recipe that recognises the tree (the last one always does: "not bootable"). */
export async function planFor(tree: ImageTree, env: RecipeEnv = {}): Promise<RecipePlan> {
  for (const r of RECIPES) {
    const plan = await r.match(tree, env);
    if (plan) return plan;
  }
  throw new Error('unreachable: the last recipe always matches');
}

export type { BootMode, Helper, Recipe, RecipeEnv, RecipeFile, RecipePlan, ScriptContext } from './types.js';
export { WIMBOOT_HINT, WIMBOOT_URL } from './winpe.js';
export { MEMDISK_PATHS } from './generic.js';
