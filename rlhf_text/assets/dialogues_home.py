"""Cooking, gardening and home-care dialogues for the embedded default dataset.

Format (parsed by :func:`rlhf_text.default_data.parse_dialogues`): ``@ topic | phrase`` starts a
topic (the phrase completes "a question about ..."); ``how:``, ``what:`` and ``why:`` lines give
a subject that question templates turn into prompts; ``ask:`` lines give literal questions
separated by ``|``; each ``=`` line is one chosen answer; an indented line continues the line
above.
"""

DIALOGUES = """
@ cooking | cooking
how: boil an egg
= Put the egg in boiling water for about nine minutes for a firm yolk, then cool it in cold
  water so it peels easily.
= For a soft yolk, boil the egg for six minutes, then move it into a bowl of cold water to stop
  the cooking.
how: cook rice on the stove
= Rinse one cup of rice, add two cups of water, bring it to a boil, then cover and simmer on low
  heat for eighteen minutes.
= Use about two parts water to one part rice, simmer it covered on low heat, and let it rest
  five minutes before you fluff it.
how: make a simple tomato sauce
= Cook chopped onion and garlic in olive oil, add canned tomatoes and a pinch of salt, and
  simmer for twenty minutes.
= Soften garlic in olive oil, stir in crushed tomatoes, season with salt and basil, and let it
  simmer until it thickens.
how: keep pasta from sticking together
= Use plenty of boiling water, stir the pasta during the first two minutes, and toss it with the
  sauce right after draining.
= Cook it in a large pot of salted water, stir it often at the start, and do not rinse it after
  draining.
how: bake bread at home
= Mix flour, water, yeast and salt, knead for ten minutes, let the dough rise for an hour, then
  bake it at 220 C for about thirty minutes.
= Knead a simple dough, let it double in size, shape a loaf, and bake it in a hot oven until the
  crust is deep brown.
how: tell if chicken is fully cooked
= Check that the inside reaches 74 C with a meat thermometer; the juices should run clear and
  the meat should not be pink.
= The safest check is a thermometer in the thickest part of the meat: it should read at least 74
  C.
how: chop an onion without crying
= Chill the onion for fifteen minutes first and use a sharp knife, which crushes fewer cells and
  releases less of the gas that stings.
= A sharp knife, a cold onion and good air flow help a lot; cutting near a fan also blows the
  fumes away.
how: make a green salad more interesting
= Add something crunchy like nuts or seeds, something sweet like apple slices, and a simple
  dressing of oil, lemon and salt.
= Mix different leaves, add toasted seeds, some cheese and fresh herbs, and dress it just before
  serving.
what: a roux
= A roux is flour cooked in an equal amount of butter or fat; it is used to thicken sauces,
  soups and gravy.
= It is a paste of fat and flour cooked together, the base for white sauce and many thick soups.
what: a marinade
= A marinade is a seasoned liquid, often with oil, acid and spices, that you soak meat or
  vegetables in before cooking.
= It is a mix of oil, vinegar or citrus juice and spices that adds flavor to food left in it for
  some hours.
why: bread dough needs to rise
= Yeast eats sugar in the dough and makes gas, which fills it with bubbles so the bread turns
  out light and soft.
= Rising gives the yeast time to make carbon dioxide; the gas puffs up the dough and builds
  flavor.
why: you should rest meat after cooking
= Resting lets the juices spread back through the meat, so less of them run out when you cut it
  and it stays moist.
= While it rests, the heat evens out and the juices settle, which keeps the meat tender and
  juicy.
ask: How long can I keep cooked rice in the fridge? | Is cooked rice still good after a few days
  in the fridge?
= Eat cooked rice within three or four days, and cool it quickly and keep it covered in the
  fridge.
= Keep it covered in the fridge and finish it within about four days; reheat it until it is
  steaming hot.
ask: What can I use instead of eggs in baking? | Is there a good egg substitute for baking?
= For each egg, use half a mashed banana, a quarter cup of apple sauce, or a spoon of ground
  flax mixed with three spoons of water.
= Try mashed banana, apple sauce, or ground flax seed mixed with water; they bind cakes and
  muffins well.
how: sharpen a kitchen knife
= Hold the blade at about twenty degrees on a whetstone and slide it across evenly on both
  sides, then finish with a honing rod.
= Use a whetstone at a steady angle, make the same number of strokes on each side, then rinse
  and dry the blade.
how: make soup less salty
= Add more water or unsalted stock, or stir in some cream or potatoes; a squeeze of lemon can
  also balance the taste.
= Dilute it with unsalted broth, or cook plain rice or potatoes in it to make a larger pot with
  the same salt.
how: cook vegetables so they stay green
= Cook them briefly in boiling salted water or steam them for a few minutes, then rinse in cold
  water to keep the color.
= Do not overcook them: a few minutes of steaming is enough, and a quick cold bath keeps them
  bright green.
how: plan meals for a busy week
= Pick four or five simple dinners, shop once with a list, and cook a big batch of grains and
  beans on the weekend.
= Choose a few easy recipes, make a shopping list from them, and prepare some parts ahead, like
  washed greens or cooked rice.
ask: What is the difference between baking soda and baking powder? | Why do some recipes use
  baking soda and others baking powder?
= Baking soda needs an acid like yogurt or lemon juice to work, while baking powder already
  contains its own acid.
= Baking powder is baking soda plus a dry acid, so recipes with sour ingredients use soda and
  the rest use powder.
how: store fresh herbs
= Keep soft herbs like basil in a glass of water on the counter, and wrap hard herbs like thyme
  in a damp towel in the fridge.
= Trim the stems and stand them in water like flowers, or wrap them in a damp paper towel and
  keep them cold.

@ gardening | gardening
how: grow tomatoes
= Plant them in full sun after the last frost, water deeply a few times a week, and tie the
  stems to a stake as they grow.
= Give them at least six hours of sun, rich soil and steady water, and support the plants with a
  cage or stake.
how: start a compost pile
= Mix green scraps like vegetable peels and grass with brown material like dry leaves, keep it
  damp, and turn it every week or two.
= Layer kitchen scraps with dry leaves or cardboard, keep the pile as moist as a wrung sponge,
  and turn it to add air.
how: water a garden properly
= Water deeply at the base of the plants in the early morning, a few times a week, rather than a
  little every day.
= Soak the soil near the roots early in the day so less water evaporates; deep, less frequent
  watering grows stronger roots.
how: keep a cactus healthy
= Give it bright light, water it only when the soil is completely dry, and use a pot with a
  drainage hole.
= Place it in a sunny window, water it about every two or three weeks in summer, and much less
  in winter.
how: get rid of aphids on my plants
= Spray them off with a strong stream of water, or use a mild soap spray; ladybugs also eat
  aphids.
= Knock them off with water every few days, wipe the leaves with soapy water, and invite
  ladybugs, which feed on them.
how: grow herbs indoors
= Put them in a sunny window with at least six hours of light, use pots that drain well, and
  water when the top soil feels dry.
= Basil, mint and parsley grow well on a bright windowsill; water them when the surface is dry
  and pinch off the tips often.
what: mulch
= Mulch is a layer of material such as wood chips, straw or leaves spread on the soil to keep in
  moisture and block weeds.
= It is a covering over garden soil, like bark or straw, that holds water, keeps roots cool and
  stops many weeds.
what: a perennial plant
= A perennial is a plant that lives for more than two years and comes back every spring, like
  lavender or tulips.
= It is a plant that grows back year after year from the same roots, unlike annuals, which live
  for one season.
ask: Why are the leaves on my plant turning yellow? | What does it mean when plant leaves turn
  yellow?
= Yellow leaves often mean too much water, poor drainage, or a lack of nitrogen; check the soil
  before you water again.
= The most common causes are overwatering and missing nutrients, so let the soil dry a bit and
  feed the plant lightly.
why: plants need sunlight
= Plants use sunlight to make their food through photosynthesis, turning water and carbon
  dioxide into sugar.
= Light gives plants the energy to build sugar from air and water; without it they grow weak and
  pale.
how: plant a tree
= Dig a hole twice as wide as the root ball but no deeper, set the tree in, fill with soil, and
  water it well.
= Loosen the roots, plant it at the same depth it grew in the pot, firm the soil, and water
  deeply during the first year.
how: prune roses
= Prune in late winter: cut out dead and crossing stems, then cut healthy canes back by about a
  third above an outward bud.
= Use clean, sharp shears, remove dead wood first, and make angled cuts just above buds that
  face outward.
how: grow potatoes
= Plant seed potatoes in loose soil in early spring, pile soil around the stems as they grow,
  and harvest after the plants die back.
= Set pieces with eyes about ten centimeters deep, keep them watered, and cover the stems with
  soil to protect the tubers.
ask: When is the best time to plant a vegetable garden? | When should I plant my vegetables?
= Plant most summer vegetables after the last spring frost, when the soil is warm; peas and
  lettuce can go in a few weeks earlier.
= Cool crops like peas and spinach go in early spring, and tomatoes, beans and squash after the
  danger of frost has passed.
how: keep weeds out of my garden
= Pull weeds when they are small and the soil is moist, and cover bare soil with a thick layer
  of mulch.
= Spread mulch, weed a little each week before seeds form, and plant closely so the crops shade
  out weeds.
how: grow strawberries
= Plant them in a sunny spot with rich, well drained soil, water regularly, and put straw under
  the berries to keep them clean.
= Set the plants with the crown at soil level, give them full sun and steady water, and pick the
  berries when fully red.
how: repot a houseplant
= Choose a pot slightly bigger than the old one, loosen the roots gently, add fresh potting mix,
  and water it well.
= Slide the plant out, tease apart circling roots, set it in a pot one size larger with new
  soil, and keep it out of strong sun for a week.
what: clay soil
= Clay soil has very fine particles that hold water and nutrients but drain slowly and become
  hard when dry.
= It is heavy, sticky soil that stays wet for long; adding compost helps it drain and makes it
  easier to dig.
how: attract bees to my garden
= Plant flowers that bloom at different times, such as lavender, sunflowers and clover, and
  avoid spraying pesticides.
= Grow many native flowers, leave a shallow dish of water with stones, and skip chemical sprays.
ask: How much sun does a vegetable garden need? | Can I grow vegetables in a shady yard?
= Most vegetables need at least six to eight hours of direct sun; in shade, grow leafy greens
  like lettuce and spinach.
= Fruiting plants like tomatoes need full sun, but lettuce, kale and herbs can cope with three
  or four hours.

@ home | my home
how: unclog a sink drain
= Pour in half a cup of baking soda, then some vinegar, wait fifteen minutes, and flush with hot
  water; use a plunger if it is still slow.
= Try a plunger first, then remove and clean the trap under the sink, where most clogs sit.
how: remove a coffee stain from a shirt
= Rinse the stain from the back with cold water, rub in a little liquid soap, let it sit, and
  wash as usual.
= Blot it quickly, run cold water through the fabric, and treat it with dish soap before
  washing.
how: clean a microwave
= Heat a bowl of water with lemon juice for three minutes, leave the door closed for a few more,
  then wipe the softened mess away.
= Steam it with a bowl of water and vinegar for a few minutes, then wipe the inside with a damp
  cloth.
how: fix a squeaky door
= Put a few drops of oil or some petroleum jelly on the hinge pins, then swing the door back and
  forth to spread it.
= Lift out the hinge pin, coat it with oil or grease, put it back, and open and close the door
  several times.
how: keep my house cool in summer
= Close curtains on sunny windows during the day, open windows at night for cool air, and use
  fans to move air.
= Block the sun with blinds, air out the house in the cool evening, and avoid using the oven on
  hot afternoons.
how: get rid of mold in the bathroom
= Scrub the spots with vinegar or a mold cleaner, dry the area, and run a fan after every
  shower.
= Clean it with a mold spray, never mixing bleach with other cleaners, then keep the room dry
  with an exhaust fan.
how: hang a picture on the wall
= Mark the height, find a stud or use a wall anchor, drive in a nail or screw at a slight
  downward angle, and level the frame.
= Use a picture hook rated for the weight, check it with a level, and put heavy frames on a stud
  or a strong anchor.
how: save energy at home
= Switch to LED bulbs, turn off devices at the wall, seal drafts around windows, and wash
  clothes in cold water.
= Lower the heat by a degree or two, use LED lights, and unplug chargers and electronics you are
  not using.
how: organize a messy closet
= Take everything out, donate what you have not worn in a year, group the rest by type, and use
  boxes for small items.
= Empty it, sort items into keep, donate and throw away, then hang clothes by type and store
  seasonal items up high.
how: clean windows without streaks
= Use a mix of water and a little vinegar, wipe with a microfiber cloth, and dry with a squeegee
  on a cloudy day.
= Wash them when the sun is not on them, then dry with a clean microfiber cloth or newspaper in
  straight strokes.
what: a circuit breaker
= A circuit breaker is a switch that turns off power automatically when too much current flows,
  which protects wires from overheating.
= It is a safety switch in your electrical panel that trips and cuts the power when a circuit is
  overloaded.
ask: Why does my toilet keep running? | My toilet keeps running after I flush. How do I fix it?
= Usually the flapper at the bottom of the tank is worn and leaks, or the float is set too high;
  replacing the flapper often fixes it.
= Most often a worn rubber flapper lets water slip into the bowl, so the tank keeps refilling; a
  new flapper is cheap and easy to fit.
how: remove a sticker from glass
= Soak it with warm soapy water, scrape gently with a plastic card, and rub off what is left
  with a little cooking oil.
= Warm it with a hair dryer, peel it slowly, and clean the glue with oil or rubbing alcohol.
how: wash a wool sweater
= Hand wash it in cool water with a gentle wool soap, do not wring it, and dry it flat on a
  towel.
= Use cold water and a mild detergent, press the water out gently, and lay it flat to dry so it
  keeps its shape.
how: get rid of fruit flies
= Set a small bowl of vinegar with a drop of dish soap, take out ripe fruit, and empty the trash
  often.
= Remove overripe fruit, clean the drain, and trap them with apple cider vinegar and a drop of
  soap in a jar.
ask: How often should I change my bed sheets? | How often do I need to wash my sheets?
= Wash your sheets about once a week, or every two weeks at most, and more often if you sweat a
  lot or are sick.
= Once a week is a good habit; hot water helps remove sweat, skin cells and dust mites.
how: paint a room
= Clean and tape the edges, cover the floor, apply primer if needed, then roll on two thin coats
  and let each one dry.
= Move furniture away, tape the trim, cut in the corners with a brush, and fill the walls with a
  roller in two coats.
how: stop a dripping faucet
= Turn off the water under the sink, take the handle apart, and replace the worn washer or
  cartridge inside.
= Shut off the supply valve, remove the handle, and swap the old rubber washer for a new one of
  the same size.
what: a smoke detector
= A smoke detector is a device that senses smoke and sounds a loud alarm; test it monthly and
  change the battery every year.
= It is an alarm on the ceiling that warns you of fire early; you should have one on every floor
  of your home.
how: clean a cast iron pan
= Wash it with hot water and a brush, dry it right away on the stove, and rub a thin layer of
  oil on it.
= Scrub it with hot water and coarse salt instead of soaking it, dry it fully, and coat it
  lightly with oil to prevent rust.
"""
